namespace Qlaud.Metering.Leasing;

/// <summary>What a budget lease is a slice of (stored as a number in the lease table).</summary>
internal enum LeaseSubjectKind : short
{
    /// <summary>A minted key's spend cap in its current period.</summary>
    Key = 0,

    /// <summary>An account's wallet balance (leased only with <c>Qlaud:Metering:EnforceWallet</c>).</summary>
    Wallet = 1,
}
