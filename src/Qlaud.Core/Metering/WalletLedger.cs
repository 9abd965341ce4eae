using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Qlaud.Billing;
using Qlaud.Storage;

namespace Qlaud.Metering;

/// <summary>
/// <see cref="IWalletLedger"/> over the metering wallet: a Stripe credit or refund is one ledger entry and one balance change
/// in one transaction, at most once per external id (the ledger's unique index on <c>ExternalEventId</c>).
/// </summary>
/// <remarks>
/// The external id goes to <c>ExternalEventId</c>; the Checkout Session (credits) or the charge (refunds) to
/// <c>ExternalReference</c>; the PaymentIntent to <c>ExternalPaymentId</c>. Events naming no known account change no balance:
/// they are recorded by <see cref="UnappliedPaymentService"/> (listed for the operator, applied once the account exists).
/// </remarks>
internal sealed partial class WalletLedger(WalletService wallets, UnappliedPaymentService unapplied, IDbContextFactory<QlaudDbContext> dbFactory, ILogger<WalletLedger> logger) : IWalletLedger
{
    public async ValueTask<LedgerApplyResult> ApplyExternalAsync(ExternalLedgerEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.AccountId is not { } accountId)
        {
            await unapplied.RecordAsync(entry, cancellationToken).ConfigureAwait(false);
            Log.UnknownAccount(logger, entry.EventId, "(none)");
            return LedgerApplyResult.UnknownAccount;
        }

        var change = ToWalletChange(entry, accountId);
        var result = await wallets.ApplyAsync(change, cancellationToken).ConfigureAwait(false);
        if (result is null)
        {
            await unapplied.RecordAsync(entry, cancellationToken).ConfigureAwait(false);

            // The account may have been created since the first try, by a creator that looked for recorded payments before this
            // one was recorded: try once more, so the payment is applied by one side or the other.
            result = await wallets.ApplyAsync(change, cancellationToken).ConfigureAwait(false);
            if (result is null)
            {
                Log.UnknownAccount(logger, entry.EventId, accountId);
                return LedgerApplyResult.UnknownAccount;
            }
        }

        // A payment recorded while its account did not exist, delivered again now that it does: the recorded one is done too.
        await unapplied.MarkAppliedAsync(entry.ExternalId, result.Entry.Id, cancellationToken).ConfigureAwait(false);
        return result.Duplicate ? LedgerApplyResult.Duplicate : LedgerApplyResult.Applied;
    }

    /// <summary>The wallet change for an external entry: the external id becomes the ledger's event id (at most once).</summary>
    internal static WalletChange ToWalletChange(ExternalLedgerEntry entry, string accountId)
    {
        var kind = entry.Kind == ExternalLedgerEntryKind.RefundDebit ? LedgerEntryKind.Refund : LedgerEntryKind.Credit;
        string? reference = entry.Kind == ExternalLedgerEntryKind.RefundDebit ? entry.ChargeId : entry.CheckoutSessionId;
        return new WalletChange(accountId, kind, entry.AmountMicros, entry.Description, reference, entry.PaymentIntentId, entry.ExternalId);
    }

    public async ValueTask<long> GetRefundedMicrosAsync(string chargeId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(chargeId);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            long debited = await db.LedgerEntries.AsNoTracking()
                .Where(e => e.Kind == LedgerEntryKind.Refund && e.ExternalReference == chargeId)
                .SumAsync(e => e.AmountMicros, cancellationToken).ConfigureAwait(false);
            return -debited;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Payment event {EventId} names no known account ({AccountId}): recorded as unapplied, nothing credited")]
        public static partial void UnknownAccount(ILogger logger, string eventId, string accountId);
    }
}
