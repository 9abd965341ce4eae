namespace Qlaud.Storage;

/// <summary>An account: owns keys, a wallet and ledger entries. The bootstrap master key administers <see cref="DefaultId"/>.</summary>
internal sealed class AccountEntity
{
    /// <summary>The account every gateway has from its first start.</summary>
    public const string DefaultId = "default";

    public required string Id { get; set; }

    public required string Name { get; set; }

    public long CreatedAtMs { get; set; }

    /// <summary>When the operator disabled the account (Unix ms); null while it is active. A disabled account's keys authenticate nothing.</summary>
    public long? DisabledAtMs { get; set; }
}
