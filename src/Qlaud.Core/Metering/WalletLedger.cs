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
/// <c>ExternalReference</c>; the PaymentIntent to <c>ExternalPaymentId</c>. Events naming no known account change nothing
/// and are recorded as a warning in the log with their event and account ids, for the operator to reconcile.
/// </remarks>
internal sealed partial class WalletLedger(WalletService wallets, IDbContextFactory<QlaudDbContext> dbFactory, ILogger<WalletLedger> logger) : IWalletLedger
{
    public async ValueTask<LedgerApplyResult> ApplyExternalAsync(ExternalLedgerEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.AccountId is not { } accountId)
        {
            Log.UnknownAccount(logger, entry.EventId, "(none)");
            return LedgerApplyResult.UnknownAccount;
        }

        var kind = entry.Kind == ExternalLedgerEntryKind.RefundDebit ? LedgerEntryKind.Refund : LedgerEntryKind.Credit;
        string? reference = entry.Kind == ExternalLedgerEntryKind.RefundDebit ? entry.ChargeId : entry.CheckoutSessionId;
        var change = new WalletChange(accountId, kind, entry.AmountMicros, entry.Description, reference, entry.PaymentIntentId, entry.ExternalId);
        var result = await wallets.ApplyAsync(change, cancellationToken).ConfigureAwait(false);
        if (result is null)
        {
            Log.UnknownAccount(logger, entry.EventId, accountId);
            return LedgerApplyResult.UnknownAccount;
        }

        return result.Duplicate ? LedgerApplyResult.Duplicate : LedgerApplyResult.Applied;
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
        [LoggerMessage(1, LogLevel.Warning, "Payment event {EventId} names no known account ({AccountId}): recorded here, nothing credited")]
        public static partial void UnknownAccount(ILogger logger, string eventId, string accountId);
    }
}
