namespace Qlaud.Storage;

/// <summary>An account's prepaid balance in micro-USD. Changed only together with a ledger entry that explains the change.</summary>
internal sealed class WalletEntity
{
    public required string AccountId { get; set; }

    /// <summary>The balance in micro-USD; negative when usage ran past it while the wallet was not enforced.</summary>
    public long BalanceMicros { get; set; }

    public long UpdatedAtMs { get; set; }
}
