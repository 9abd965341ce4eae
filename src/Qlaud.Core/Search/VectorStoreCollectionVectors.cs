using System.Linq.Expressions;
using Microsoft.Extensions.VectorData;

namespace Qlaud.Search;

/// <summary>
/// Message chunk vectors in an app's <c>Microsoft.Extensions.VectorData</c> collection: upserted as messages are indexed,
/// deleted with their thread or end user, and searched with the scope as the collection's filter. The collection keeps
/// them, so nothing is loaded at start-up.
/// </summary>
/// <remarks>A search asks the collection for <see cref="OverFetch"/> × k chunks and keeps each message's best chunk, so a
/// message with many chunks near the query can leave fewer than k messages.</remarks>
internal sealed class VectorStoreCollectionVectors(VectorStoreCollection<string, QlaudVectorRecord> collection) : ISearchVectors
{
    private const int OverFetch = 4;
    private const int DeletePage = 1000;
    private readonly SemaphoreSlim _ensure = new(1, 1);
    private bool _ensured;
    private int _dimensions;
    private long _count;

    public bool LoadedAtStartUp => false;

    public int Dimensions => Volatile.Read(ref _dimensions);

    public long Count => Interlocked.Read(ref _count);

    public async Task<bool> AddAsync(long documentId, string accountId, string? endUserId, string? keyId, string threadId, long createdAtMs, int dimensions,
        ReadOnlyMemory<float> vectors, CancellationToken cancellationToken)
    {
        if (dimensions <= 0 || vectors.Length == 0 || vectors.Length % dimensions != 0
            || Interlocked.CompareExchange(ref _dimensions, dimensions, 0) is not 0 and var held && held != dimensions)
        {
            return false;
        }

        await EnsureAsync(cancellationToken).ConfigureAwait(false);
        int chunks = vectors.Length / dimensions;
        var records = new List<QlaudVectorRecord>(chunks);
        for (int c = 0; c < chunks; c++)
        {
            records.Add(new QlaudVectorRecord
            {
                Key = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{documentId}-{c}"),
                DocumentId = documentId,
                AccountId = accountId,
                EndUserId = endUserId,
                KeyId = keyId,
                ThreadId = threadId,
                CreatedAtMs = createdAtMs,
                Vector = vectors.Slice(c * dimensions, dimensions).ToArray(),
            });
        }

        await collection.UpsertAsync(records, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _count, chunks);
        return true;
    }

    public Task RemoveThreadAsync(string accountId, string threadId, CancellationToken cancellationToken)
        => RemoveAsync(r => r.AccountId == accountId && r.ThreadId == threadId, cancellationToken);

    public Task RemoveEndUserAsync(string accountId, string endUserId, CancellationToken cancellationToken)
        => RemoveAsync(r => r.AccountId == accountId && r.EndUserId == endUserId, cancellationToken);

    public async Task<List<(long DocumentId, float Score)>> SearchAsync(SearchScope scope, ReadOnlyMemory<float> query, int k, CancellationToken cancellationToken)
    {
        await EnsureAsync(cancellationToken).ConfigureAwait(false);
        var best = new Dictionary<long, float>();
        var options = new VectorSearchOptions<QlaudVectorRecord> { Filter = Filter(scope) };
        await foreach (var result in collection.SearchAsync(query, k * OverFetch, options, cancellationToken).ConfigureAwait(false))
        {
            float score = (float)(result.Score ?? 0);
            long id = result.Record.DocumentId;
            if (!best.TryGetValue(id, out float held) || score > held)
            {
                best[id] = score;
            }
        }

        return [.. best.OrderByDescending(static p => p.Value).Take(k).Select(static p => (p.Key, p.Value))];
    }

    /// <summary>Deletes the matching records a page at a time until none is left (bounded: one page per thousand records).</summary>
    private async Task RemoveAsync(Expression<Func<QlaudVectorRecord, bool>> match, CancellationToken cancellationToken)
    {
        await EnsureAsync(cancellationToken).ConfigureAwait(false);
        for (int page = 0; page < 100_000; page++)
        {
            var keys = new List<string>(DeletePage);
            await foreach (var record in collection.GetAsync(match, DeletePage, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                keys.Add(record.Key);
            }

            if (keys.Count == 0)
            {
                return;
            }

            await collection.DeleteAsync(keys, cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _count, -keys.Count);
        }
    }

    private async Task EnsureAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _ensured))
        {
            return;
        }

        await _ensure.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_ensured)
            {
                await collection.EnsureCollectionExistsAsync(cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _ensured, true);
            }
        }
        finally
        {
            _ensure.Release();
        }
    }

    /// <summary>The scope as a filter naming only the conditions it has (account always; end user, key, thread, time when set).</summary>
    internal static Expression<Func<QlaudVectorRecord, bool>> Filter(SearchScope scope)
    {
        var r = Expression.Parameter(typeof(QlaudVectorRecord), "r");
        Expression body = Equal(r, nameof(QlaudVectorRecord.AccountId), scope.AccountId);
        if (scope.EndUserId is { } endUser)
        {
            body = Expression.AndAlso(body, Equal(r, nameof(QlaudVectorRecord.EndUserId), endUser));
        }

        if (scope.KeyId is { } key)
        {
            body = Expression.AndAlso(body, Equal(r, nameof(QlaudVectorRecord.KeyId), key));
        }

        if (scope.ThreadId is { } thread)
        {
            body = Expression.AndAlso(body, Equal(r, nameof(QlaudVectorRecord.ThreadId), thread));
        }

        var created = Expression.Property(r, nameof(QlaudVectorRecord.CreatedAtMs));
        if (scope.AfterMs is { } after)
        {
            body = Expression.AndAlso(body, Expression.GreaterThan(created, Expression.Constant(after)));
        }

        if (scope.BeforeMs is { } before)
        {
            body = Expression.AndAlso(body, Expression.LessThan(created, Expression.Constant(before)));
        }

        return Expression.Lambda<Func<QlaudVectorRecord, bool>>(body, r);
    }

    private static BinaryExpression Equal(ParameterExpression r, string property, string value)
        => Expression.Equal(Expression.Property(r, property), Expression.Constant(value, typeof(string)));
}
