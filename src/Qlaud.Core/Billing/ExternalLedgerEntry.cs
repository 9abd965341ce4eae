namespace Qlaud.Billing;

/// <summary>A wallet change caused by an external payment system (a Stripe top-up or refund).</summary>
/// <param name="ExternalId">
/// What makes the entry unique: it is applied at most once per id (a unique index, written in the same transaction as the ledger
/// entry). Stripe top-ups use <c>stripe:checkout_session:{cs_…}</c> (a paid session credits once, whichever of its events
/// arrives), refunds use <c>stripe:charge:{ch_…}:refunded_from:{micros}</c> (one step of the charge's cumulative refunded
/// amount). At most 255 characters.
/// </param>
/// <param name="EventId">The external event that caused the entry (Stripe <c>evt_…</c>), kept for the audit trail.</param>
/// <param name="AccountId">The account whose wallet changes; null when the event names none (the entry is then only recorded).</param>
/// <param name="AmountMicros">The signed change in micro-USD: positive for <see cref="ExternalLedgerEntryKind.TopUpCredit"/>,
/// negative for <see cref="ExternalLedgerEntryKind.RefundDebit"/>.</param>
/// <param name="Kind">What the change is.</param>
/// <param name="Description">A human-readable note for the ledger (no secrets).</param>
/// <param name="CheckoutSessionId">The Stripe Checkout Session (<c>cs_…</c>), when known.</param>
/// <param name="PaymentIntentId">The Stripe PaymentIntent (<c>pi_…</c>), when known.</param>
/// <param name="ChargeId">The Stripe Charge (<c>ch_…</c>), when known; always set for refunds.</param>
internal sealed record ExternalLedgerEntry(
    string ExternalId,
    string EventId,
    string? AccountId,
    long AmountMicros,
    ExternalLedgerEntryKind Kind,
    string Description,
    string? CheckoutSessionId = null,
    string? PaymentIntentId = null,
    string? ChargeId = null);
