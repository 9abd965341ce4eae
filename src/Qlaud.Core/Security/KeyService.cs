using System.Text;
using Microsoft.EntityFrameworkCore;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Security;

/// <summary>Mints, lists, changes and revokes an account's keys. Changes reach this node's key cache at once.</summary>
internal sealed class KeyService(IDbContextFactory<QlaudDbContext> dbFactory, StorageInitializer storage, KeyRegistry registry, LedgerWriter ledger, TimeProvider time)
{
    /// <summary>Characters of the secret kept for display (<c>qlk_live_</c> and 6 more).</summary>
    private const int PrefixLength = 15;

    /// <summary>Mints a key; the secret is returned here once and never again.</summary>
    public async Task<(KeyView Key, string Secret)> CreateAsync(string accountId, NewKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        long now = Now();
        var (entity, secret) = NewEntity(accountId, key, now);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            db.ApiKeys.Add(entity);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        return (Register(entity, now), secret);
    }

    /// <summary>A new key's row and its secret, not yet stored: for a caller that commits it with other rows in one transaction
    /// and then calls <see cref="Register"/>.</summary>
    public static (ApiKeyEntity Entity, string Secret) NewEntity(string accountId, NewKey key, long nowMs)
    {
        ArgumentNullException.ThrowIfNull(key);
        string secret = KeyAuthenticator.Generate();
        var entity = new ApiKeyEntity
        {
            Id = NewId(),
            AccountId = accountId,
            Name = key.Name,
            Scope = KeyScopes.ToWire(key.Scope),
            EndUserId = key.EndUserId,
            KeyHash = KeyAuthenticator.HashHex(secret),
            Prefix = secret[..PrefixLength],
            MaxSpendMicros = key.MaxSpendMicros,
            LimitReset = LimitResetPeriods.ToWire(key.LimitReset),
            ExpiresAtMs = key.ExpiresAtMs,
            RpmLimit = key.RpmLimit,
            TpmLimit = key.TpmLimit,
            CreatedAtMs = nowMs,
            PeriodStartMs = LimitResetPeriods.Start(key.LimitReset, nowMs),
        };
        return (entity, secret);
    }

    /// <summary>Makes a committed key row known to this node's key registry and returns its view.</summary>
    public KeyView Register(ApiKeyEntity entity, long nowMs) => View(registry.Upsert(entity), nowMs);

    /// <summary>Lists keys newest first. <paramref name="cursor"/> is the <c>next_cursor</c> of the previous page.</summary>
    public async Task<(IReadOnlyList<KeyView> Keys, string? NextCursor)> ListAsync(string accountId, string? cursor, int limit, CancellationToken cancellationToken)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var query = db.ApiKeys.AsNoTracking().Where(k => k.AccountId == accountId);
            if (DecodeCursor(cursor) is var (afterMs, afterId) && afterId is not null)
            {
                query = query.Where(k => k.CreatedAtMs < afterMs || (k.CreatedAtMs == afterMs && string.Compare(k.Id, afterId) < 0));
            }

            var page = await query.OrderByDescending(static k => k.CreatedAtMs).ThenByDescending(static k => k.Id)
                .Take(limit + 1).ToListAsync(cancellationToken).ConfigureAwait(false);
            bool more = page.Count > limit;
            if (more)
            {
                page.RemoveAt(page.Count - 1);
            }

            long now = Now();
            var views = new List<KeyView>(page.Count);
            foreach (var entity in page)
            {
                views.Add(View(entity, now));
            }

            return (views, more ? EncodeCursor(page[^1].CreatedAtMs, page[^1].Id) : null);
        }
    }

    public async Task<KeyView?> GetAsync(string accountId, string id, CancellationToken cancellationToken)
    {
        var state = await registry.FindByIdAsync(id, cancellationToken).ConfigureAwait(false);
        return state is null || state.Record.AccountId != accountId ? null : View(state, Now());
    }

    /// <summary>Applies <paramref name="patch"/>; null when the account has no such key.</summary>
    public async Task<KeyView?> PatchAsync(string accountId, string id, KeyPatch patch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(patch);
        var current = await registry.FindByIdAsync(id, cancellationToken).ConfigureAwait(false);
        if (current is null || current.Record.AccountId != accountId)
        {
            return null;
        }

        bool periodChanges = patch.LimitReset.IsSet && patch.LimitReset.Value != current.Record.LimitReset;
        if (periodChanges)
        {
            // The new period is recounted from the ledger: once this flush is done, whatever the ledger still lacks was settled
            // after it, so it belongs to the period that is current now.
            await ledger.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        long now = Now();
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var entity = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == id && k.AccountId == accountId, cancellationToken).ConfigureAwait(false);
            if (entity is null)
            {
                return null;
            }

            if (patch.Name.IsSet)
            {
                entity.Name = patch.Name.Value;
            }

            if (patch.MaxSpendMicros.IsSet)
            {
                entity.MaxSpendMicros = patch.MaxSpendMicros.Value;
            }

            if (patch.Disabled.IsSet)
            {
                entity.Disabled = patch.Disabled.Value;
            }

            if (patch.ExpiresAtMs.IsSet)
            {
                entity.ExpiresAtMs = patch.ExpiresAtMs.Value;
            }

            if (patch.RpmLimit.IsSet)
            {
                entity.RpmLimit = patch.RpmLimit.Value;
            }

            if (patch.TpmLimit.IsSet)
            {
                entity.TpmLimit = patch.TpmLimit.Value;
            }

            if (!periodChanges)
            {
                await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                return View(registry.Upsert(entity), now);
            }

            var reset = patch.LimitReset.Value;
            long start = LimitResetPeriods.Start(reset, now);
            entity.LimitReset = LimitResetPeriods.ToWire(reset);
            var written = await WrittenSpendAsync(db, id, start, cancellationToken).ConfigureAwait(false);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);

            // Charges keep settling in memory ahead of the ledger writer. The new period's spend is what the ledger holds for it
            // plus everything settled since the flush and not yet written (the key's lifetime spend in memory less the ledger's),
            // taken under the key's gate together with the new reset, so no charge falls between the count and the overwrite.
            var state = current;
            long periodSpend;
            bool moved;
            lock (state.Gate)
            {
                moved = state.PeriodStartMs != start;
                if (moved)
                {
                    state.PeriodStartMs = start;
                    state.PeriodSpentMicros = written.Period + Math.Max(0, state.LifetimeSpentMicros - written.Lifetime);
                }

                periodSpend = state.PeriodSpentMicros;
                state.Update(ApiKeyRecord.From(entity));
            }

            state = registry.Upsert(entity);
            if (moved)
            {
                // Entries still queued for the old period are ignored by the writer once the row is in the new period (they are
                // counted above); entries of the new period the writer applied since the count are kept on top.
                await db.ApiKeys.Where(k => k.Id == id).ExecuteUpdateAsync(u => u
                    .SetProperty(k => k.PeriodSpendMicros, k => k.PeriodStartMs == start ? k.PeriodSpendMicros + periodSpend : periodSpend)
                    .SetProperty(k => k.PeriodStartMs, start), cancellationToken).ConfigureAwait(false);
            }

            return View(state, now);
        }
    }

    /// <summary>Revokes the key: from this moment it authenticates no request on this node. Null when the account has no such key.</summary>
    public async Task<KeyView?> RevokeAsync(string accountId, string id, CancellationToken cancellationToken)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        long now = Now();
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var entity = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == id && k.AccountId == accountId, cancellationToken).ConfigureAwait(false);
            if (entity is null)
            {
                return null;
            }

            entity.RevokedAtMs ??= now;
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return View(registry.Upsert(entity), now);
        }
    }

    /// <summary>The key's most recent usage entries, newest first; null when the account has no such key.</summary>
    public async Task<IReadOnlyList<LedgerEntryEntity>?> RecentUsageAsync(string accountId, string id, int limit, CancellationToken cancellationToken)
    {
        var state = await registry.FindByIdAsync(id, cancellationToken).ConfigureAwait(false);
        if (state is null || state.Record.AccountId != accountId)
        {
            return null;
        }

        await ledger.FlushAsync(cancellationToken).ConfigureAwait(false);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            return await db.LedgerEntries.AsNoTracking().Where(e => e.KeyId == id && e.AccountId == accountId)
                .OrderByDescending(static e => e.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The key's usage in the ledger, in all and since <paramref name="periodStartMs"/>, read in one statement (one snapshot).</summary>
    private static async Task<(long Lifetime, long Period)> WrittenSpendAsync(QlaudDbContext db, string keyId, long periodStartMs, CancellationToken cancellationToken)
    {
        var sums = await db.LedgerEntries.Where(e => e.KeyId == keyId && (e.Kind == LedgerEntryKind.Usage || e.Kind == LedgerEntryKind.Tool))
            .GroupBy(static e => 1)
            .Select(g => new { Lifetime = g.Sum(static e => e.CostMicros), Period = g.Sum(e => e.CreatedAtMs >= periodStartMs ? e.CostMicros : 0) })
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return sums is null ? (0, 0) : (sums.Lifetime, sums.Period);
    }

    private KeyView View(ApiKeyEntity entity, long now)
    {
        // Live counters when this node has the key in memory (they include charges not yet written).
        if (registry.TryGetCached(entity.Id) is { } state)
        {
            return View(state, now);
        }

        var record = ApiKeyRecord.From(entity);
        long start = LimitResetPeriods.Start(record.LimitReset, now);
        long periodSpend = entity.PeriodStartMs == start ? entity.PeriodSpendMicros : 0;
        return new KeyView(record, periodSpend, entity.SpendMicros, record.MaxSpendMicros is { } cap ? Math.Max(0, cap - periodSpend) : null,
            LimitResetPeriods.End(record.LimitReset, start), entity.LastUsedAtMs);
    }

    private static KeyView View(KeyState state, long now)
    {
        lock (state.Gate)
        {
            state.RollPeriod(now);
            var record = state.Record;
            return new KeyView(record, state.PeriodSpentMicros, state.LifetimeSpentMicros,
                record.MaxSpendMicros is { } cap ? Math.Max(0, cap - state.PeriodSpentMicros) : null,
                LimitResetPeriods.End(record.LimitReset, state.PeriodStartMs), state.LastUsedMs);
        }
    }

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    private static string NewId() => "key_" + System.Security.Cryptography.RandomNumberGenerator.GetString("0123456789abcdefghijklmnopqrstuvwxyz", 20);

    private static string EncodeCursor(long createdAtMs, string id)
        => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{createdAtMs}:{id}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static (long CreatedAtMs, string? Id) DecodeCursor(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return (0, null);
        }

        try
        {
            string base64 = cursor.Replace('-', '+').Replace('_', '/');
            base64 += new string('=', (4 - (base64.Length % 4)) % 4);
            string text = Encoding.UTF8.GetString(Convert.FromBase64String(base64));
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            return colon > 0 && long.TryParse(text.AsSpan(0, colon), System.Globalization.CultureInfo.InvariantCulture, out long ms) ? (ms, text[(colon + 1)..]) : (0, null);
        }
        catch (FormatException)
        {
            return (0, null);
        }
    }

    /// <summary>Whether <paramref name="cursor"/> is one this service issued (or empty).</summary>
    public static bool IsValidCursor(string? cursor) => string.IsNullOrEmpty(cursor) || DecodeCursor(cursor).Id is not null;
}
