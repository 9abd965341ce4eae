namespace Qlaud.Billing;

/// <summary>
/// The wallet as external payments see it: the one seam between Stripe top-ups and the metering wallet and ledger.
/// </summary>
/// <remarks>
/// <para>Payment events are delivered at least once, possibly concurrently and out of order (Stripe retries for days, and
/// several gateway instances may share a database), so an implementation must make these guarantees:</para>
/// <list type="bullet">
/// <item><description><b>At most once.</b> <see cref="ApplyExternalAsync"/> applies an entry at most once per
/// <see cref="ExternalLedgerEntry.ExternalId"/>. The id is stored with the ledger entry, in the same transaction as the
/// balance change, under a <b>unique index</b>: a second apply of the same id, sequential or concurrent, changes nothing and
/// returns <see cref="LedgerApplyResult.Duplicate"/>. A unique-index violation at commit means another delivery won the race;
/// it is answered with <see cref="LedgerApplyResult.Duplicate"/>, not an error. Checking "exists?" before inserting is not
/// enough on its own: two deliveries can both pass the check.</description></item>
/// <item><description><b>Unknown accounts.</b> When <see cref="ExternalLedgerEntry.AccountId"/> is null or names no account,
/// no balance changes; the entry is recorded for the operator (at most once per
/// <see cref="ExternalLedgerEntry.ExternalId"/>) and <see cref="LedgerApplyResult.UnknownAccount"/> is returned. Recording it
/// does not consume <see cref="ExternalLedgerEntry.ExternalId"/>: the recorded entry is applied once the account exists, and
/// resending the event from Stripe's dashboard then applies it too, still once in all.</description></item>
/// <item><description><b>Failures.</b> A storage failure throws: the webhook then answers 500 and Stripe delivers the
/// event again later, so nothing is lost.</description></item>
/// </list>
/// <para>The production implementation is the metering wallet over EF Core (one transaction: ledger entry with the external id,
/// balance update). Until it is registered, the Stripe endpoints answer 501.</para>
/// </remarks>
internal interface IWalletLedger
{
    /// <summary>Credits or debits an account's wallet for an external payment event, at most once per external id.</summary>
    /// <param name="entry">The change; its sign matches its kind (credits positive, refund debits negative).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>Whether the entry was applied now, had been applied before, or names no known account.</returns>
    ValueTask<LedgerApplyResult> ApplyExternalAsync(ExternalLedgerEntry entry, CancellationToken cancellationToken);

    /// <summary>
    /// The total already debited for refunds of one charge, as a positive number of micro-USD: the sum of the applied
    /// <see cref="ExternalLedgerEntryKind.RefundDebit"/> entries whose <see cref="ExternalLedgerEntry.ChargeId"/> is
    /// <paramref name="chargeId"/>, negated. 0 when there are none.
    /// </summary>
    /// <param name="chargeId">The Stripe charge id (<c>ch_…</c>).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <remarks>Stripe reports refunds as the charge's cumulative <c>amount_refunded</c>; this is what turns it into
    /// the part not yet debited (see <c>StripeWebhookProcessor</c>).</remarks>
    ValueTask<long> GetRefundedMicrosAsync(string chargeId, CancellationToken cancellationToken);
}
