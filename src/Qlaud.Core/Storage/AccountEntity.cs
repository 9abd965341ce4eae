namespace Qlaud.Storage;

/// <summary>An account: owns keys, a wallet and ledger entries. The bootstrap master key administers <see cref="DefaultId"/>.</summary>
internal sealed class AccountEntity
{
    /// <summary>The account every gateway has from its first start.</summary>
    public const string DefaultId = "default";

    public required string Id { get; set; }

    public required string Name { get; set; }

    public long CreatedAtMs { get; set; }
}
