using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Qlaud.Storage;

namespace Qlaud.Metering;

/// <summary>The in-memory wallets of the accounts this node has metered, loaded from the database on first use.</summary>
internal sealed class AccountRegistry(IDbContextFactory<QlaudDbContext> db, StorageInitializer storage)
{
    private readonly ConcurrentDictionary<string, AccountState> _accounts = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _loading = new(1, 1);

    public ValueTask<AccountState?> FindAsync(string accountId, CancellationToken cancellationToken)
        => _accounts.TryGetValue(accountId, out var state) ? ValueTask.FromResult<AccountState?>(state) : LoadAsync(accountId, cancellationToken);

    public AccountState? TryGetCached(string accountId) => _accounts.TryGetValue(accountId, out var state) ? state : null;

    private async ValueTask<AccountState?> LoadAsync(string accountId, CancellationToken cancellationToken)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        // One loader at a time: two racing loads must not both read the balance and then count charges on different objects.
        await _loading.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_accounts.TryGetValue(accountId, out var state))
            {
                return state;
            }

            var context = await db.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            await using (context.ConfigureAwait(false))
            {
                var wallet = await context.Wallets.AsNoTracking().FirstOrDefaultAsync(w => w.AccountId == accountId, cancellationToken).ConfigureAwait(false);
                if (wallet is null)
                {
                    return null;
                }

                state = new AccountState(accountId, wallet.BalanceMicros);
                _accounts[accountId] = state;
                return state;
            }
        }
        finally
        {
            _loading.Release();
        }
    }
}
