namespace Qlaud.Billing;

/// <summary>What an <see cref="ExternalLedgerEntry"/> records.</summary>
internal enum ExternalLedgerEntryKind
{
    /// <summary>Money paid in (a completed Stripe Checkout top-up): a positive amount.</summary>
    TopUpCredit,

    /// <summary>Money returned to the payer (a refunded top-up charge): a negative amount.</summary>
    RefundDebit,
}
