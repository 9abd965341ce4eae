using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Qlaud.Billing;
using Qlaud.Metering;
using Qlaud.Security;
using Qlaud.Storage;

namespace Qlaud.Accounts;

/// <summary>The tenants of one gateway: creates an account with its wallet and master key, lists, and disables accounts.</summary>
/// <remarks>Each account has its own wallet, keys and ledger; no key of one account reads or changes another's. Disabling an
/// account takes effect at once for its keys cached on this node; other nodes sharing the database pick it up when they re-read
/// a key's settings (<c>Qlaud:Metering:KeyCacheSeconds</c>).</remarks>
internal sealed class AccountService(
    IDbContextFactory<QlaudDbContext> dbFactory, StorageInitializer storage, KeyService keys, KeyRegistry registry, UnappliedPaymentService payments, TimeProvider time)
{
    /// <summary>Creates an account with an empty wallet and its master key; the key's secret is returned here once.</summary>
    /// <remarks>Payments recorded earlier for this account id (a Stripe event that arrived before the account existed) are
    /// applied to the new wallet, once.</remarks>
    public async Task<(AccountView Account, KeyView MasterKey, string Secret)> CreateAsync(string? name, CancellationToken cancellationToken)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        string id = "acct_" + RandomNumberGenerator.GetString("0123456789abcdefghijklmnopqrstuvwxyz", 20);
        var account = new AccountEntity { Id = id, Name = name ?? id, CreatedAtMs = now };
        var (masterKey, secret) = KeyService.NewEntity(id, new NewKey("master", KeyScope.Master, null, null, LimitReset.None, null, null, null), now);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            // One transaction: an account never exists without its wallet and master key.
            db.Accounts.Add(account);
            db.Wallets.Add(new WalletEntity { AccountId = id, BalanceMicros = 0, UpdatedAtMs = now });
            db.ApiKeys.Add(masterKey);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        var key = keys.Register(masterKey, now);
        await payments.ApplyUnappliedPaymentsAsync(id, cancellationToken).ConfigureAwait(false);
        return (View(account), key, secret);
    }

    /// <summary>Lists accounts oldest first, after <paramref name="afterId"/> when given.</summary>
    public async Task<(IReadOnlyList<AccountView> Accounts, bool HasMore)> ListAsync(string? afterId, int limit, CancellationToken cancellationToken)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var query = db.Accounts.AsNoTracking();
            if (afterId is not null)
            {
                query = query.Where(a => string.Compare(a.Id, afterId) > 0);
            }

            var page = await query.OrderBy(static a => a.Id).Take(limit + 1).ToListAsync(cancellationToken).ConfigureAwait(false);
            bool more = page.Count > limit;
            if (more)
            {
                page.RemoveAt(page.Count - 1);
            }

            return (page.ConvertAll(View), more);
        }
    }

    public async Task<AccountView?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var account = await db.Accounts.AsNoTracking().FirstOrDefaultAsync(a => a.Id == id, cancellationToken).ConfigureAwait(false);
            return account is null ? null : View(account);
        }
    }

    /// <summary>Renames and/or disables or re-enables an account; null when there is no such account.</summary>
    /// <exception cref="InvalidOperationException">Disabling the default account (the operator's own).</exception>
    public async Task<AccountView?> UpdateAsync(string id, string? name, bool? disabled, CancellationToken cancellationToken)
    {
        if (disabled == true && id == AccountEntity.DefaultId)
        {
            throw new InvalidOperationException("The default account is the operator's own and cannot be disabled.");
        }

        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var account = await db.Accounts.FirstOrDefaultAsync(a => a.Id == id, cancellationToken).ConfigureAwait(false);
            if (account is null)
            {
                return null;
            }

            if (name is not null)
            {
                account.Name = name;
            }

            if (disabled is { } off)
            {
                account.DisabledAtMs = off ? account.DisabledAtMs ?? time.GetUtcNow().ToUnixTimeMilliseconds() : null;
            }

            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            if (disabled is { } changed)
            {
                registry.SetAccountDisabled(id, changed);
            }

            return View(account);
        }
    }

    private static AccountView View(AccountEntity account) => new(account.Id, account.Name, account.CreatedAtMs, account.DisabledAtMs);
}
