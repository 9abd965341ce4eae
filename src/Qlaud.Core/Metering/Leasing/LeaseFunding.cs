namespace Qlaud.Metering.Leasing;

/// <summary>Which of this instance's budget leases a reservation (and its ledger entry) draws on.</summary>
[Flags]
internal enum LeaseFunding : byte
{
    /// <summary>No lease: a single-process store, or a key without a cap and a wallet that is not enforced.</summary>
    None = 0,

    /// <summary>The key's cap lease.</summary>
    Key = 1,

    /// <summary>The account's wallet lease.</summary>
    Wallet = 2,
}
