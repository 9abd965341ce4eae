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
/// <c>Qlaud:Metering:KeyCacheSeconds</c> (re-read in the background). Unknown keys are not cached (nothing to grow from
/// guessing), so each unknown key costs one indexed lookup.
/// </remarks>
internal sealed partial class KeyRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, KeyState> _byHash = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyState>.AlternateLookup<ReadOnlySpan<char>> _byHashSpan;
    private readonly ConcurrentDictionary<string, KeyState> _byId = new(StringComparer.Ordinal);
    private readonly IDbContextFactory<QlaudDbContext> _db;
    private readonly StorageInitializer _storage;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _refreshMs;

    public KeyRegistry(IDbContextFactory<QlaudDbContext> db, StorageInitializer storage, TimeProvider time, IOptions<QlaudOptions> options, ILogger<KeyRegistry> logger)
    {
        _db = db;
        _logger = logger;
        _storage = storage;
        _time = time;
        _refreshMs = (long)options.Value.Metering.KeyCacheSeconds * 1000;
        _byHashSpan = _byHash.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Finds a key by the lower-case hex SHA-256 of its secret.</summary>
    /// <remarks>A cached key answers from memory; when its settings are older than the cache time they are re-read in the
    /// background, so the request path never waits for the database for a key this node knows.</remarks>
    public ValueTask<KeyState?> FindByHashAsync(ReadOnlySpan<char> hash, CancellationToken cancellationToken)
    {
        if (_byHashSpan.TryGetValue(hash, out var state))
        {
            RefreshIfStale(state);
            return ValueTask.FromResult<KeyState?>(state);
        }

        return LoadAsync(hash.ToString(), byHash: true, cancellationToken);
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
    public KeyState Upsert(ApiKeyEntity entity)
    {
        var record = ApiKeyRecord.From(entity);
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var state = _byId.GetOrAdd(entity.Id, static (_, e) => new KeyState(ApiKeyRecord.From(e), e.KeyHash, e.SpendMicros, e.PeriodSpendMicros, e.PeriodStartMs, e.LastUsedAtMs), entity);
        state.Update(record);
        state.MarkRefreshed(now);
        _byHash[state.KeyHash] = state;
        return state;
    }

    private void RefreshIfStale(KeyState state)
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        long refreshed = state.RefreshedAtMs;
        // Only the request that moves the timestamp starts a refresh: no stampede on a busy key.
        if (_refreshMs > 0 && now - refreshed > _refreshMs && state.TryClaimRefresh(refreshed, now))
        {
            // Off the request path: SQLite's async calls complete synchronously, so an inline refresh would be a database round trip here.
            string id = state.Record.Id;
            _ = Task.Run(() => RefreshAsync(id));
        }
    }

    private async Task RefreshAsync(string id)
    {
        try
        {
            await LoadAsync(id, byHash: false, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The cached settings stay in force; the next stale lookup tries again.
            Log.RefreshFailed(_logger, ex, id);
        }
    }

    private async ValueTask<KeyState?> LoadAsync(string value, bool byHash, CancellationToken cancellationToken)
    {
        await _storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var db = await _db.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var query = db.ApiKeys.AsNoTracking();
            var entity = byHash
                ? await query.FirstOrDefaultAsync(k => k.KeyHash == value, cancellationToken).ConfigureAwait(false)
                : await query.FirstOrDefaultAsync(k => k.Id == value, cancellationToken).ConfigureAwait(false);
            return entity is null ? null : Upsert(entity);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Re-reading the settings of key {KeyId} failed; the cached settings stay in force")]
        public static partial void RefreshFailed(ILogger logger, Exception exception, string keyId);
    }
}
