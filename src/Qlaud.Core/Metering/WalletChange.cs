using Qlaud.Storage;

namespace Qlaud.Metering;

/// <summary>A change to a wallet that does not come from usage: an operator's credit or adjustment, a paid top-up, a refund.</summary>
/// <param name="AccountId">The account whose wallet changes.</param>
/// <param name="Kind">Credit, adjustment or refund.</param>
/// <param name="AmountMicros">The signed change to the balance in micro-USD (a refund is negative).</param>
/// <param name="Note">A note for the ledger.</param>
/// <param name="ExternalReference">An external object the change comes from (a Stripe Checkout Session id).</param>
/// <param name="ExternalPaymentId">A second external object (a Stripe PaymentIntent or Charge id).</param>
/// <param name="ExternalEventId">The event that caused it (a Stripe event id): applied at most once, recorded in the same transaction.</param>
internal sealed record WalletChange(string AccountId, LedgerEntryKind Kind, long AmountMicros, string? Note = null,
    string? ExternalReference = null, string? ExternalPaymentId = null, string? ExternalEventId = null);

/// <summary>The result of <see cref="WalletService.ApplyAsync"/>.</summary>
/// <param name="Entry">The ledger entry (for a duplicate event: the entry recorded the first time).</param>
/// <param name="BalanceMicros">The wallet balance after the change, as this node sees it.</param>
/// <param name="Duplicate">Whether the event had already been applied, so nothing changed.</param>
internal sealed record WalletChangeResult(LedgerEntryEntity Entry, long BalanceMicros, bool Duplicate);
