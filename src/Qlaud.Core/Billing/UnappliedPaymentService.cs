using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Billing;

/// <summary>
/// External payments that named no existing account: recorded when they arrive, listed for the operator, and applied to the
/// account's wallet exactly once when the account exists.
/// </summary>
/// <remarks>
/// <para><b>Exactly once.</b> Applying a recorded payment is a wallet change whose event id is the payment's
/// <see cref="ExternalLedgerEntry.ExternalId"/>, the same id the webhook uses; the ledger's unique index on that id lets one
/// application through, whether it comes from <see cref="ApplyUnappliedPaymentsAsync"/> (also called twice concurrently, or
/// on several nodes), from a redelivered webhook once the account exists, or both. The record is then marked applied; a crash
/// between the two only leaves the mark to the next call, which finds the ledger entry and marks it without applying again.</para>
/// <para><b>When.</b> <see cref="ApplyUnappliedPaymentsAsync"/> runs for every account with waiting payments at start-up
/// (<see cref="UnappliedPaymentSweep"/>) and is meant to be called by whatever creates an account, after the account is
/// committed. A payment arriving while its account is being created is not lost either way: the webhook path tries the wallet
/// again after recording it.</para>
/// </remarks>
internal sealed partial class UnappliedPaymentService(
    IDbContextFactory<QlaudDbContext> dbFactory, StorageInitializer storage, WalletService wallets, TimeProvider time, ILogger<UnappliedPaymentService> logger)
{
    /// <summary>Records <paramref name="entry"/>, which named no existing account; recording the same payment again changes nothing,
    /// except that a refund's amount grows to the larger cumulative refund.</summary>
    /// <returns>Whether this call recorded it (false when it was already recorded).</returns>
    public async Task<bool> RecordAsync(ExternalLedgerEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            db.UnappliedPayments.Add(new UnappliedPaymentEntity
            {
                ExternalId = entry.ExternalId,
                EventId = entry.EventId,
                AccountId = entry.AccountId,
                Kind = entry.Kind,
                AmountMicros = entry.AmountMicros,
                Description = entry.Description,
                CheckoutSessionId = entry.CheckoutSessionId,
                PaymentIntentId = entry.PaymentIntentId,
                ChargeId = entry.ChargeId,
                CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
            });
            try
            {
                await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                Log.Recorded(logger, entry.EventId, entry.AccountId ?? "(none)", entry.AmountMicros);
                return true;
            }
            catch (DbUpdateException)
            {
                // Recorded before (the unique index on the external id), or a real failure: tell them apart by reading it.
                db.ChangeTracker.Clear();
                string externalId = entry.ExternalId;
                if (!await db.UnappliedPayments.AnyAsync(p => p.ExternalId == externalId, cancellationToken).ConfigureAwait(false))
                {
                    throw;
                }

                if (entry.Kind == ExternalLedgerEntryKind.RefundDebit)
                {
                    // Stripe reports refunds cumulatively: a later event for the same unapplied step carries the larger total.
                    long amount = entry.AmountMicros;
                    await db.UnappliedPayments.Where(p => p.ExternalId == externalId && p.AppliedAtMs == null && p.AmountMicros > amount)
                        .ExecuteUpdateAsync(s => s.SetProperty(p => p.AmountMicros, amount).SetProperty(p => p.Description, entry.Description), cancellationToken)
                        .ConfigureAwait(false);
                }

                return false;
            }
        }
    }

    /// <summary>Marks the recorded payment <paramref name="externalId"/> applied by <paramref name="ledgerEntryId"/>, if it is recorded
    /// and not marked yet (the webhook applied it once its account existed).</summary>
    public async Task MarkAppliedAsync(string externalId, long ledgerEntryId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(externalId);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            long now = time.GetUtcNow().ToUnixTimeMilliseconds();
            await db.UnappliedPayments.Where(p => p.ExternalId == externalId && p.AppliedAtMs == null)
                .ExecuteUpdateAsync(s => s.SetProperty(p => p.AppliedAtMs, now).SetProperty(p => p.LedgerEntryId, ledgerEntryId), cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>The recorded payments, newest first.</summary>
    /// <param name="applied">Only applied ones (true), only those still waiting (false), or all (null).</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<IReadOnlyList<UnappliedPaymentEntity>> ListAsync(bool? applied, int limit, CancellationToken cancellationToken)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var query = db.UnappliedPayments.AsNoTracking();
            query = applied switch
            {
                true => query.Where(static p => p.AppliedAtMs != null),
                false => query.Where(static p => p.AppliedAtMs == null),
                null => query,
            };

            return await query.OrderByDescending(static p => p.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Applies every recorded payment that names <paramref name="accountId"/> and is not applied yet, oldest first, each
    /// exactly once (see the remarks of the class).</summary>
    /// <param name="accountId">The account, which must exist (a payment for a missing account stays recorded).</param>
    /// <param name="cancellationToken">Cancels the work; what was applied stays applied.</param>
    /// <returns>What this call applied (a payment another caller applied first is not counted).</returns>
    public async Task<UnappliedPaymentsApplied> ApplyUnappliedPaymentsAsync(string accountId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(accountId);
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        List<UnappliedPaymentEntity> waiting;
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            waiting = await db.UnappliedPayments.AsNoTracking().Where(p => p.AccountId == accountId && p.AppliedAtMs == null)
                .OrderBy(static p => p.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        }

        int applied = 0;
        long amount = 0;
        foreach (var payment in waiting)
        {
            var entry = new ExternalLedgerEntry(payment.ExternalId, payment.EventId, accountId, payment.AmountMicros, payment.Kind, payment.Description,
                payment.CheckoutSessionId, payment.PaymentIntentId, payment.ChargeId);
            var result = await wallets.ApplyAsync(WalletLedger.ToWalletChange(entry, accountId), cancellationToken).ConfigureAwait(false);
            if (result is null)
            {
                // The account is gone (or not there yet): the payment stays recorded.
                return new UnappliedPaymentsApplied(applied, amount);
            }

            if (!result.Duplicate)
            {
                applied++;
                amount += payment.AmountMicros;
                Log.Applied(logger, payment.EventId, accountId, payment.AmountMicros);
            }

            await MarkAppliedAsync(payment.ExternalId, result.Entry.Id, cancellationToken).ConfigureAwait(false);
        }

        return new UnappliedPaymentsApplied(applied, amount);
    }

    /// <summary>Applies the waiting payments of every account that exists (the start-up sweep).</summary>
    public async Task<UnappliedPaymentsApplied> ApplyAllAsync(CancellationToken cancellationToken)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        List<string> accountIds;
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            accountIds = await db.UnappliedPayments.AsNoTracking()
                .Where(p => p.AppliedAtMs == null && p.AccountId != null && db.Accounts.Any(a => a.Id == p.AccountId))
                .Select(static p => p.AccountId!).Distinct().ToListAsync(cancellationToken).ConfigureAwait(false);
        }

        int applied = 0;
        long amount = 0;
        foreach (var accountId in accountIds)
        {
            var result = await ApplyUnappliedPaymentsAsync(accountId, cancellationToken).ConfigureAwait(false);
            applied += result.Count;
            amount += result.AmountMicros;
        }

        return new UnappliedPaymentsApplied(applied, amount);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Payment event {EventId} names no existing account ({AccountId}), {AmountMicros} micro-USD: recorded, applied once the account exists (GET /v1/wallet/unapplied lists it)")]
        public static partial void Recorded(ILogger logger, string eventId, string accountId, long amountMicros);

        [LoggerMessage(2, LogLevel.Information, "Recorded payment {EventId} applied to account {AccountId}: {AmountMicros} micro-USD")]
        public static partial void Applied(ILogger logger, string eventId, string accountId, long amountMicros);
    }
}
