using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.Search;

/// <summary>
/// Keeps the search index: indexes queued messages (text to the store's full-text index, chunk embeddings to the store and
/// the in-memory <see cref="VectorIndex"/>), loads the vectors at start-up, and forgets deleted threads and erased end users.
/// </summary>
/// <remarks>Indexing a batch and forgetting run one at a time, so a message deleted while its batch was being indexed cannot
/// come back into memory after it was forgotten (the store writes a document only while its message exists).</remarks>
internal sealed partial class SearchIndex(ISearchStore store, ISearchVectors vectors, SearchEmbedder embedder, IOptions<QlaudOptions> options,
    TimeProvider time, ILogger<SearchIndex> logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _loadGate = new();
    private Task? _load;
    private readonly int _chunkCharacters = options.Value.Search.ChunkCharacters;
    private long _indexed;
    private long _lastLagMs = -1;
    private long _maxLagMs = -1;

    /// <summary>The change feed of a shared database, when the vectors are this process's in-memory index.</summary>
    private readonly ISearchChangeFeed? _feed = vectors is VectorIndex ? store as ISearchChangeFeed : null;
    private readonly SemaphoreSlim _catchUpGate = new(1, 1);
    private readonly long _catchUpEveryMs = options.Value.Search.IndexPollMilliseconds;
    private string? _watermark;

    /// <summary>When the last catch-up's read started (Unix ms); long.MinValue before the first.</summary>
    private long _caughtUpAtMs = long.MinValue;

    public ISearchStore Store => store;

    public ISearchVectors Vectors => vectors;

    public SearchEmbedder Embedder => embedder;

    public long Indexed => Interlocked.Read(ref _indexed);

    public long? LastLagMs => Interlocked.Read(ref _lastLagMs) is >= 0 and var lag ? lag : null;

    public long? MaxLagMs => Interlocked.Read(ref _maxLagMs) is >= 0 and var lag ? lag : null;

    /// <summary>Reads every stored vector into memory, once: later calls wait for the first (the indexer calls it at start-up;
    /// a search calls it too, so search works in a bare service provider without the hosted indexer).</summary>
    public Task EnsureLoadedAsync(CancellationToken cancellationToken)
    {
        var load = Volatile.Read(ref _load);
        if (load is null)
        {
            lock (_loadGate)
            {
                load = _load ??= LoadAsync();
            }
        }

        return load.IsCompletedSuccessfully ? Task.CompletedTask : load.WaitAsync(cancellationToken);
    }

    private async Task LoadAsync()
    {
        if (!embedder.Available || !vectors.LoadedAtStartUp)
        {
            return;
        }

        if (_feed is not null)
        {
            // The watermark first: what is written while the vectors are read comes again in the first catch-up.
            _watermark = (await _feed.ReadChangesAsync(null, CancellationToken.None).ConfigureAwait(false)).Watermark;
            _caughtUpAtMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        }

        long documents = 0;
        await foreach (var stored in store.ReadVectorsAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (await vectors.AddAsync(stored.DocumentId, stored.AccountId, stored.EndUserId, stored.KeyId, stored.ThreadId, stored.CreatedAtMs, stored.Dimensions,
                MemoryMarshal.Cast<byte, float>(stored.Vectors).ToArray(), CancellationToken.None).ConfigureAwait(false))
            {
                documents++;
            }
        }

        Log.Loaded(logger, documents, vectors.Count);
    }

    /// <summary>On a shared database, brings the in-memory vectors in step with what other instances indexed and deleted
    /// since the last catch-up (one read of the store's change feed); with <paramref name="ifStale"/>, only when the last one
    /// started <c>Qlaud:Search:IndexPollMilliseconds</c> or more ago. Does nothing on SQLite or with a plugged vector store.</summary>
    public async Task CatchUpAsync(bool ifStale, CancellationToken cancellationToken)
    {
        if (_feed is null || !embedder.Available)
        {
            return;
        }

        await EnsureLoadedAsync(cancellationToken).ConfigureAwait(false);
        if (ifStale && !Stale())
        {
            return;
        }

        await _catchUpGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if ((ifStale && !Stale()) || _watermark is null)
            {
                return; // another caller just caught up
            }

            long started = time.GetUtcNow().ToUnixTimeMilliseconds();
            var changes = await _feed.ReadChangesAsync(_watermark, cancellationToken).ConfigureAwait(false);
            var index = (VectorIndex)vectors;
            int added = 0, removed = 0;
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                long before = index.Count;
                foreach (var stored in changes.Written)
                {
                    index.Add(stored.DocumentId, stored.AccountId, stored.EndUserId, stored.KeyId, stored.ThreadId, stored.CreatedAtMs, stored.Dimensions,
                        MemoryMarshal.Cast<byte, float>(stored.Vectors));
                }

                added = (int)Math.Min(int.MaxValue, index.Count - before);

                // After the additions: a document written and deleted between two reads may come in both lists.
                foreach (var account in changes.Deleted.GroupBy(static d => d.AccountId, StringComparer.Ordinal))
                {
                    removed += index.RemoveDocuments(account.Key, account.Select(static d => d.DocumentId).ToHashSet());
                }
            }
            finally
            {
                _gate.Release();
            }

            _watermark = changes.Watermark;
            Volatile.Write(ref _caughtUpAtMs, started);
            if (added > 0 || removed > 0)
            {
                Log.CaughtUp(logger, added, removed);
            }
        }
        finally
        {
            _catchUpGate.Release();
        }

        bool Stale() => time.GetUtcNow().ToUnixTimeMilliseconds() - Volatile.Read(ref _caughtUpAtMs) >= _catchUpEveryMs;
    }

    /// <summary>Indexes up to <paramref name="max"/> queued messages; the number of queue rows taken (0 when the queue is empty).</summary>
    public async Task<int> IndexBatchAsync(int max, CancellationToken cancellationToken)
    {
        var queued = await store.ReadQueueAsync(max, cancellationToken).ConfigureAwait(false);
        if (queued.Count == 0)
        {
            return 0;
        }

        var documents = new List<IndexedMessage>(queued.Count);
        var chunks = new List<string>();
        var chunkCounts = new List<int>();
        foreach (var message in queued)
        {
            if (message.ContentJson is null)
            {
                continue; // deleted before it was indexed
            }

            string text = SearchText.Extract(message.ContentJson);
            var pieces = embedder.Available ? SearchText.Chunk(text, _chunkCharacters) : [];
            chunks.AddRange(pieces);
            chunkCounts.Add(pieces.Count);
            documents.Add(new IndexedMessage(message.MessageId, message.ThreadId!, message.AccountId!, message.EndUserId, message.KeyId, message.Role!,
                message.CreatedAtMs, text, null));
        }

        if (chunks.Count > 0)
        {
            var embedded = await embedder.EmbedAsync(chunks, cancellationToken).ConfigureAwait(false);
            int next = 0;
            for (int i = 0; i < documents.Count; i++)
            {
                int count = chunkCounts[i];
                if (count > 0)
                {
                    documents[i] = documents[i] with { Vectors = embedded[next..(next + count)] };
                    next += count;
                }
            }
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long now = time.GetUtcNow().ToUnixTimeMilliseconds();
            long[] ids = await store.WriteAsync(documents, [.. queued.Select(static q => q.QueueId)], now, cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < documents.Count; i++)
            {
                var document = documents[i];
                if (ids[i] != 0 && document.Vectors is { Length: > 0 } chunkVectors)
                {
                    var flat = new float[chunkVectors.Length * chunkVectors[0].Length];
                    for (int c = 0; c < chunkVectors.Length; c++)
                    {
                        chunkVectors[c].CopyTo(flat, c * chunkVectors[0].Length);
                    }

                    if (!await vectors.AddAsync(ids[i], document.AccountId, document.EndUserId, document.KeyId, document.ThreadId, document.CreatedAtMs, chunkVectors[0].Length, flat,
                        cancellationToken).ConfigureAwait(false))
                    {
                        Log.DimensionsChanged(logger, document.MessageId, chunkVectors[0].Length, vectors.Dimensions);
                    }
                }
            }

            now = time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var message in queued)
            {
                long lag = Math.Max(0, now - message.EnqueuedAtMs);
                Interlocked.Exchange(ref _lastLagMs, lag);
                if (lag > Interlocked.Read(ref _maxLagMs))
                {
                    Interlocked.Exchange(ref _maxLagMs, lag);
                }

                Diagnostics.QlaudDiagnostics.SearchIndexLag.Record(lag / 1000.0);
            }

            Interlocked.Add(ref _indexed, documents.Count);
        }
        finally
        {
            _gate.Release();
        }

        return queued.Count;
    }

    /// <summary>The index's state, read between two indexer batches: a batch whose queue rows are gone (committed) has its
    /// vectors and counters in memory too, so a caller that sees nothing pending finds every queued message searchable.</summary>
    public async Task<SearchIndexStatus> StatusAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (pending, oldest) = await store.QueueStateAsync(cancellationToken).ConfigureAwait(false);
            return new SearchIndexStatus(pending, oldest, Indexed, LastLagMs, MaxLagMs, Embedder.Available, Vectors.Count);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Drops a deleted thread's vectors from memory (its stored documents went with its messages).</summary>
    public async Task ForgetThreadAsync(string accountId, string threadId, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await vectors.RemoveThreadAsync(accountId, threadId, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Drops an erased end user's vectors from memory.</summary>
    public async Task ForgetEndUserAsync(string accountId, string endUserId, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await vectors.RemoveEndUserAsync(accountId, endUserId, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Search vectors loaded: {Documents} messages, {Vectors} vectors")]
        public static partial void Loaded(ILogger logger, long documents, long vectors);

        [LoggerMessage(2, LogLevel.Warning, "Message {MessageId} was embedded with {Dimensions} dimensions where the index holds {Expected}: it is searchable by keyword only. Was the embedding model changed?")]
        public static partial void DimensionsChanged(ILogger logger, string messageId, int dimensions, int expected);

        [LoggerMessage(3, LogLevel.Debug, "Search vectors caught up with other instances: {Vectors} vectors added, {Documents} messages removed")]
        public static partial void CaughtUp(ILogger logger, int vectors, int documents);
    }
}
