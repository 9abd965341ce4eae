using Qlaud.Billing;

namespace Qlaud.Storage;

/// <summary>
/// An external payment (a Stripe top-up or refund) that named no existing account when it arrived: recorded here for the
/// operator, and applied to the account's wallet once the account exists.
/// </summary>
/// <remarks>Not tied to <see cref="AccountEntity"/> by a foreign key: the account it names need not exist (or ever exist).</remarks>
internal sealed class UnappliedPaymentEntity
{
    public long Id { get; set; }

    /// <summary>The payment's <see cref="ExternalLedgerEntry.ExternalId"/>; unique, so a payment is recorded once however often its
    /// events arrive. It becomes the ledger entry's <see cref="LedgerEntryEntity.ExternalEventId"/> when applied, so it is applied
    /// at most once.</summary>
    public required string ExternalId { get; set; }

    /// <summary>The event that first reported it (Stripe <c>evt_…</c>).</summary>
    public required string EventId { get; set; }

    /// <summary>The account the payment names; null when it names none (it can then never be applied automatically).</summary>
    public string? AccountId { get; set; }

    public ExternalLedgerEntryKind Kind { get; set; }

    /// <summary>The signed wallet change in micro-USD: positive for a top-up, negative for a refund.</summary>
    public long AmountMicros { get; set; }

    public required string Description { get; set; }

    public string? CheckoutSessionId { get; set; }

    public string? PaymentIntentId { get; set; }

    public string? ChargeId { get; set; }

    public long CreatedAtMs { get; set; }

    /// <summary>When it was applied to the wallet; null while it is not.</summary>
    public long? AppliedAtMs { get; set; }

    /// <summary>The ledger entry that applied it, once applied.</summary>
    public long? LedgerEntryId { get; set; }
}
