namespace Qlaud.Billing;

/// <summary>The outcome of <see cref="IWalletLedger.ApplyExternalAsync"/>.</summary>
internal enum LedgerApplyResult
{
    /// <summary>The entry was written and the balance changed.</summary>
    Applied,

    /// <summary>An entry with the same external id had already been applied; nothing changed.</summary>
    Duplicate,

    /// <summary>The account is missing or unknown; the entry was recorded for reconciliation and no balance changed.</summary>
    UnknownAccount,
}
