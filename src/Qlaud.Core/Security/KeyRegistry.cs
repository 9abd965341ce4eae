using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Security;

/// <summary>The in-memory index of minted keys by hash and by id, filled from the database on first use.</summary>
/// <remarks>
/// Authentication of a known key is a dictionary lookup. Changes made on this node (patch, revoke) update the cached
/// entry at once; settings changed by another node sharing the database are picked up after
/// <c>Qlaud:Metering:KeyCacheSeconds</c> (re-read in the background, every key due in one round of two queries). An unknown key's hash is remembered for
/// <see cref="UnknownKeySeconds"/> seconds in a set of at most <see cref="MaxUnknownKeys"/> entries, so repeating a wrong key
/// costs no database lookup; a key minted on this node leaves that set at once, one minted by another node sharing the database
/// authenticates here after at most that time.
/// </remarks>
internal sealed partial class KeyRegistry : IDisposable
{
    /// <summary>How long an unknown key's hash answers "unknown" from memory.</summary>
    public const int UnknownKeySeconds = 30;

    /// <summary>The most unknown hashes remembered; when full, the set starts over (it is a cost saver, not a record).</summary>
    public const int MaxUnknownKeys = 10_000;

    /// <summary>The most keys re-read by one query of a refresh round.</summary>
    public const int MaxKeysPerQuery = 1000;

    private readonly ConcurrentDictionary<string, KeyState> _byHash = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyState>.AlternateLookup<ReadOnlySpan<char>> _byHashSpan;
    private readonly ConcurrentDictionary<string, long> _unknown = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> _unknownSpan;
    private readonly ConcurrentDictionary<string, KeyState> _byId = new(StringComparer.Ordinal);
    private readonly IDbContextFactory<QlaudDbContext> _db;
    private readonly StorageInitializer _storage;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _refreshMs;

    // Compiled once per registry (a compiled query serves one model, and a registry one database): a refresh re-reads every
    // cached key once per KeyCacheSeconds, and a LINQ query built per call spends most of its time translating its
    // expression tree again, not in the database.
    private readonly Func<QlaudDbContext, string, CancellationToken, Task<ApiKeyEntity?>> _keyByHash =
        EF.CompileAsyncQuery(static (QlaudDbContext db, string hash, CancellationToken _) => db.ApiKeys.AsNoTracking().FirstOrDefault(k => k.KeyHash == hash));

    private readonly Func<QlaudDbContext, string, CancellationToken, Task<ApiKeyEntity?>> _keyById =
        EF.CompileAsyncQuery(static (QlaudDbContext db, string id, CancellationToken _) => db.ApiKeys.AsNoTracking().FirstOrDefault(k => k.Id == id));

    private readonly Func<QlaudDbContext, string, CancellationToken, Task<bool>> _accountDisabled =
        EF.CompileAsyncQuery(static (QlaudDbContext db, string accountId, CancellationToken _) => db.Accounts.AsNoTracking().Any(a => a.Id == accountId && a.DisabledAtMs != null));

    private readonly Metering.Leasing.RateLimitShare? _share;

    public KeyRegistry(IDbContextFactory<QlaudDbContext> db, StorageInitializer storage, TimeProvider time, IOptions<QlaudOptions> options, ILogger<KeyRegistry> logger,
        Metering.Leasing.RateLimitShare? share = null)
    {
        _share = share;
        _db = db;
        _logger = logger;
        _storage = storage;
        _time = time;
        _refreshMs = (long)options.Value.Metering.KeyCacheSeconds * 1000;
        _byHashSpan = _byHash.GetAlternateLookup<ReadOnlySpan<char>>();
        _unknownSpan = _unknown.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Finds a key by the lower-case hex SHA-256 of its secret.</summary>
    /// <remarks>A cached key answers from memory; when its settings are older than the cache time they are re-read in the
    /// background, so the request path never waits for the database for a key this node knows.</remarks>
    public ValueTask<KeyState?> FindByHashAsync(ReadOnlySpan<char> hash, CancellationToken cancellationToken)
    {
        if (TryFindInMemory(hash, out var state))
        {
            return ValueTask.FromResult(state);
        }

        return LoadByHashAsync(hash.ToString(), cancellationToken);
    }

    /// <summary>Answers from memory: true with the key, or true with null for a hash recently found unknown; false when only the
    /// database can tell.</summary>
    public bool TryFindInMemory(ReadOnlySpan<char> hash, out KeyState? state)
    {
        if (_byHashSpan.TryGetValue(hash, out var known))
        {
            RefreshIfStale(known);
            state = known;
            return true;
        }

        state = null;
        if (_unknownSpan.TryGetValue(hash, out long expiresMs))
        {
            if (_time.GetUtcNow().ToUnixTimeMilliseconds() < expiresMs)
            {
                return true;
            }

            _unknownSpan.TryRemove(hash, out _);
        }

        return false;
    }

    private async ValueTask<KeyState?> LoadByHashAsync(string hash, CancellationToken cancellationToken)
    {
        var state = await LoadAsync(hash, byHash: true, cancellationToken).ConfigureAwait(false);
        if (state is null)
        {
            if (_unknown.Count >= MaxUnknownKeys)
            {
                _unknown.Clear();
            }

            _unknown[hash] = _time.GetUtcNow().ToUnixTimeMilliseconds() + (UnknownKeySeconds * 1000L);
        }

        return state;
    }

    /// <summary>Finds a key by id.</summary>
    public ValueTask<KeyState?> FindByIdAsync(string id, CancellationToken cancellationToken)
    {
        if (_byId.TryGetValue(id, out var state))
        {
            RefreshIfStale(state);
            return ValueTask.FromResult<KeyState?>(state);
        }

        return LoadAsync(id, byHash: false, cancellationToken);
    }

    /// <summary>Stops the keys' rate-limiter timers.</summary>
    public void Dispose()
    {
        foreach (var state in _byId.Values)
        {
            state.DisposeLimits();
        }
    }

    /// <summary>The cached state of a key, if this node has seen it.</summary>
    public KeyState? TryGetCached(string id) => _byId.TryGetValue(id, out var state) ? state : null;

    /// <summary>Adds or refreshes the cached key from its row; counters of a key already cached are kept.</summary>
    /// <param name="entity">The key's row.</param>
    /// <param name="accountDisabled">Whether its account is disabled; null keeps what this node knows (false for a new key).</param>
    public KeyState Upsert(ApiKeyEntity entity, bool? accountDisabled = null)
    {
        ArgumentNullException.ThrowIfNull(entity);
        bool disabled = accountDisabled ?? (_byId.TryGetValue(entity.Id, out var cached) && cached.Record.AccountDisabled);
        var record = ApiKeyRecord.From(entity, disabled);
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var state = _byId.GetOrAdd(entity.Id, static (_, s) => new KeyState(s.record, s.entity.KeyHash, s.entity.SpendMicros, s.entity.PeriodSpendMicros, s.entity.PeriodStartMs, s.entity.LastUsedAtMs, s.share), (entity, record, share: _share));
        state.Update(record);
        state.MarkRefreshed(now);
        _byHash[state.KeyHash] = state;
        _unknown.TryRemove(state.KeyHash, out _);
        return state;
    }

    /// <summary>Marks every cached key of <paramref name="accountId"/> as belonging to a disabled (or re-enabled) account.</summary>
    public void SetAccountDisabled(string accountId, bool disabled)
    {
        foreach (var state in _byId.Values)
        {
            var record = state.Record;
            if (record.AccountId == accountId && record.AccountDisabled != disabled)
            {
                state.Update(record with { AccountDisabled = disabled });
            }
        }
    }

    private void RefreshIfStale(KeyState state)
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        long refreshed = state.RefreshedAtMs;
        // Only the request that moves the timestamp starts a refresh: no stampede on a busy key.
        if (_refreshMs > 0 && now - refreshed > _refreshMs && state.TryClaimRefresh(refreshed, now))
        {
            // Off the request path: SQLite's async calls complete synchronously, so an inline refresh would be a database round trip here.
            _ = Task.Run(() => RefreshRoundAsync(state));
        }
    }

    /// <summary>Re-reads, in one round of two queries, the stale key that started it and every other cached key whose settings
    /// come due within the next tenth of the cache time, so keys first seen together are refreshed together.</summary>
    private async Task RefreshRoundAsync(KeyState trigger)
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        long dueBefore = now - (_refreshMs - (_refreshMs / 10));
        // Each key's settings as they were before the read: a change made on this node while the round reads (a patch) is newer
        // than what the round may read, and is kept.
        var due = new List<ApiKeyRecord> { trigger.Record };
        foreach (var state in _byId.Values)
        {
            long refreshed = state.RefreshedAtMs;
            if (!ReferenceEquals(state, trigger) && refreshed < dueBefore && state.TryClaimRefresh(refreshed, now))
            {
                due.Add(state.Record);
            }
        }

        for (int start = 0; start < due.Count; start += MaxKeysPerQuery)
        {
            var batch = due.GetRange(start, Math.Min(MaxKeysPerQuery, due.Count - start));
            try
            {
                await LoadManyAsync(batch).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The cached settings stay in force; the next stale lookup tries again.
                Log.RefreshFailed(_logger, ex, batch.Count);
            }
        }
    }

    /// <summary>Re-reads the keys of <paramref name="due"/>, each given with its settings as they were before the read.</summary>
    private async Task LoadManyAsync(List<ApiKeyRecord> due)
    {
        var ids = due.ConvertAll(static d => d.Id);
        var seen = due.ToDictionary(static d => d.Id, StringComparer.Ordinal);
        await _storage.EnsureInitializedAsync(CancellationToken.None).ConfigureAwait(false);
        var db = await _db.CreateDbContextAsync(CancellationToken.None).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var entities = await db.ApiKeys.AsNoTracking().Where(k => ids.Contains(k.Id)).ToListAsync().ConfigureAwait(false);
            if (entities.Count == 0)
            {
                return;
            }

            var accountIds = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entity in entities)
            {
                accountIds.Add(entity.AccountId);
            }

            var accounts = new List<string>(accountIds);
            var disabled = await db.Accounts.AsNoTracking().Where(a => accounts.Contains(a.Id) && a.DisabledAtMs != null).Select(a => a.Id)
                .ToListAsync().ConfigureAwait(false);
            var disabledSet = new HashSet<string>(disabled, StringComparer.Ordinal);
            long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var entity in entities)
            {
                if (_byId.TryGetValue(entity.Id, out var state)
                    && state.TryReplace(seen[entity.Id], ApiKeyRecord.From(entity, disabledSet.Contains(entity.AccountId))))
                {
                    state.MarkRefreshed(now);
                }
            }
        }
    }

    private async ValueTask<KeyState?> LoadAsync(string value, bool byHash, CancellationToken cancellationToken)
    {
        await _storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var db = await _db.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var entity = await (byHash ? _keyByHash : _keyById)(db, value, cancellationToken).ConfigureAwait(false);
            if (entity is null)
            {
                return null;
            }

            bool accountDisabled = await _accountDisabled(db, entity.AccountId, cancellationToken).ConfigureAwait(false);
            return Upsert(entity, accountDisabled);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Re-reading the settings of {KeyCount} cached keys failed; their cached settings stay in force")]
        public static partial void RefreshFailed(ILogger logger, Exception exception, int keyCount);
    }
}
