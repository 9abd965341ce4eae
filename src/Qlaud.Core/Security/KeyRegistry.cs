using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Security;

/// <summary>The in-memory index of minted keys by hash and by id, filled from the database on first use.</summary>
/// <remarks>
/// Authentication of a known key is a dictionary lookup. Changes made on this node (patch, revoke) update the cached
/// entry at once; settings changed by another node sharing the database are picked up after
/// <c>Qlaud:Metering:KeyCacheSeconds</c>. Unknown keys are not cached (nothing to grow from guessing).
/// </remarks>
internal sealed class KeyRegistry
{
    private readonly ConcurrentDictionary<string, KeyState> _byHash = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyState>.AlternateLookup<ReadOnlySpan<char>> _byHashSpan;
    private readonly ConcurrentDictionary<string, KeyState> _byId = new(StringComparer.Ordinal);
    private readonly IDbContextFactory<QlaudDbContext> _db;
    private readonly StorageInitializer _storage;
    private readonly TimeProvider _time;
    private readonly long _refreshMs;

    public KeyRegistry(IDbContextFactory<QlaudDbContext> db, StorageInitializer storage, TimeProvider time, IOptions<QlaudOptions> options)
    {
        _db = db;
        _storage = storage;
        _time = time;
        _refreshMs = (long)options.Value.Metering.KeyCacheSeconds * 1000;
        _byHashSpan = _byHash.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Finds a key by the lower-case hex SHA-256 of its secret.</summary>
    public ValueTask<KeyState?> FindByHashAsync(ReadOnlySpan<char> hash, CancellationToken cancellationToken)
    {
        if (_byHashSpan.TryGetValue(hash, out var state) && !IsStale(state))
        {
            return ValueTask.FromResult<KeyState?>(state);
        }

        return LoadAsync(hash.ToString(), byHash: true, cancellationToken);
    }

    /// <summary>Finds a key by id.</summary>
    public ValueTask<KeyState?> FindByIdAsync(string id, CancellationToken cancellationToken)
    {
        if (_byId.TryGetValue(id, out var state) && !IsStale(state))
        {
            return ValueTask.FromResult<KeyState?>(state);
        }

        return LoadAsync(id, byHash: false, cancellationToken);
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
        state.RefreshedAtMs = now;
        _byHash[state.KeyHash] = state;
        return state;
    }

    private bool IsStale(KeyState state) => _refreshMs > 0 && _time.GetUtcNow().ToUnixTimeMilliseconds() - state.RefreshedAtMs > _refreshMs;

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
}
