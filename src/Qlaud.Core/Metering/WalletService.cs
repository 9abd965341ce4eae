using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Storage;

namespace Qlaud.Metering;

/// <summary>Reads wallets and applies credits, adjustments and refunds, each with its ledger entry in one transaction.</summary>
internal sealed class WalletService(IDbContextFactory<QlaudDbContext> dbFactory, AccountRegistry accounts, LedgerWriter ledger, TimeProvider time, IOptions<QlaudOptions> options)
{
    public async Task<WalletView?> GetAsync(string accountId, int recent, CancellationToken cancellationToken)
    {
        var account = await accounts.FindAsync(accountId, cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            return null;
        }

        await ledger.FlushAsync(cancellationToken).ConfigureAwait(false);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var entries = await db.LedgerEntries.AsNoTracking().Where(e => e.AccountId == accountId)
                .OrderByDescending(static e => e.Id).Take(recent).ToListAsync(cancellationToken).ConfigureAwait(false);
            lock (account.Gate)
            {
                return new WalletView(accountId, account.BalanceMicros, account.ReservedMicros, options.Value.Metering.EnforceWallet, entries);
            }
        }
    }

    /// <summary>Applies <paramref name="change"/>: the ledger entry and the balance move together; an event id already recorded changes nothing.</summary>
    /// <returns>The result, or null when the account does not exist.</returns>
    public async Task<WalletChangeResult?> ApplyAsync(WalletChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        // Load the account's in-memory wallet first: loaded after the commit it would count the change twice.
        var account = await accounts.FindAsync(change.AccountId, cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            return null;
        }

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var entry = new LedgerEntryEntity
        {
            AccountId = change.AccountId,
            Kind = change.Kind,
            AmountMicros = change.AmountMicros,
            Note = change.Note,
            ExternalReference = change.ExternalReference,
            ExternalPaymentId = change.ExternalPaymentId,
            ExternalEventId = change.ExternalEventId,
            CreatedAtMs = now,
        };
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            if (change.ExternalEventId is { } knownEvent && await FindEventAsync(db, knownEvent, cancellationToken).ConfigureAwait(false) is { } applied)
            {
                return new WalletChangeResult(applied, Balance(account), Duplicate: true);
            }

            try
            {
                var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                await using (transaction.ConfigureAwait(false))
                {
                    db.LedgerEntries.Add(entry);
                    await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                    long delta = change.AmountMicros;
                    await db.Wallets.Where(w => w.AccountId == change.AccountId).ExecuteUpdateAsync(s => s
                        .SetProperty(w => w.BalanceMicros, w => w.BalanceMicros + delta)
                        .SetProperty(w => w.UpdatedAtMs, now), cancellationToken).ConfigureAwait(false);
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (DbUpdateException) when (change.ExternalEventId is { } eventId)
            {
                // A concurrent delivery of the same event committed first (the unique index on the event id refused this one).
                var other = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
                await using (other.ConfigureAwait(false))
                {
                    if (await FindEventAsync(other, eventId, cancellationToken).ConfigureAwait(false) is { } earlier)
                    {
                        return new WalletChangeResult(earlier, Balance(account), Duplicate: true);
                    }
                }

                throw;
            }
        }

        lock (account.Gate)
        {
            account.BalanceMicros += change.AmountMicros;
            return new WalletChangeResult(entry, account.BalanceMicros, Duplicate: false);
        }
    }

    private static Task<LedgerEntryEntity?> FindEventAsync(QlaudDbContext db, string eventId, CancellationToken cancellationToken)
        => db.LedgerEntries.AsNoTracking().FirstOrDefaultAsync(e => e.ExternalEventId == eventId, cancellationToken);

    private static long Balance(AccountState account)
    {
        lock (account.Gate)
        {
            return account.BalanceMicros;
        }
    }
}
