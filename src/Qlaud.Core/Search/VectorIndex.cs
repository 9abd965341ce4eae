using System.Numerics.Tensors;
using Cloud.Unum.USearch;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.Search;

/// <summary>
/// The in-memory vector index: per account, every indexed message's chunk embeddings in one row-major float32 matrix (in
/// blocks), searched exactly with SIMD dot products (<see cref="TensorPrimitives"/>). Embeddings are unit length, so the dot
/// product is the cosine similarity; a message scores as its best chunk.
/// </summary>
/// <remarks>Loaded from the store at start-up and kept in step by the indexer; a removed message's rows are zeroed at once
/// (no trace stays in memory) and the matrix is compacted when a quarter of it is removed. An account holding more than
/// <c>Qlaud:Search:ApproximateAboveVectors</c> chunk vectors also gets an approximate HNSW index (USearch, inner product, float32,
/// 32 links a node, 256 and 512 candidates when adding and searching), kept in step with adds and removes: a search takes <see cref="OverFetch"/> × k nearest chunks from it,
/// filters them by scope and re-scores them exactly from the matrix, and falls back to the exact scan when the filter left
/// fewer than k messages among them. The HNSW index is dropped when the account falls to half the threshold.</remarks>
internal sealed class VectorIndex : ISearchVectors, IDisposable
{
    /// <summary>Rows per block: a block is one array, so the matrix grows without copying what it holds.</summary>
    internal const int BlockRows = 8192;

    private readonly Dictionary<string, AccountVectors> _accounts = new(StringComparer.Ordinal);
    private readonly ReaderWriterLockSlim _lock = new();
    private readonly long _approximateAbove;
    private int _dimensions;
    private long _rows;

    /// <summary>Candidates taken from the HNSW index per wanted hit.</summary>
    internal const int OverFetch = 4;

    /// <summary>An index that switches an account to HNSW above <c>Qlaud:Search:ApproximateAboveVectors</c>.</summary>
    public VectorIndex(IOptions<QlaudOptions> options)
        : this(options.Value.Search.ApproximateAboveVectors is > 0 and var above ? above : long.MaxValue)
    {
    }

    /// <summary>An index that switches an account to HNSW above <paramref name="approximateAboveVectors"/> chunk vectors.</summary>
    internal VectorIndex(long approximateAboveVectors = long.MaxValue) => _approximateAbove = approximateAboveVectors;

    /// <inheritdoc/>
    public bool LoadedAtStartUp => true;

    /// <inheritdoc/>
    public Task<bool> AddAsync(long documentId, string accountId, string? endUserId, string? keyId, string threadId, long createdAtMs, int dimensions,
        ReadOnlyMemory<float> vectors, CancellationToken cancellationToken)
        => Task.FromResult(Add(documentId, accountId, endUserId, keyId, threadId, createdAtMs, dimensions, vectors.Span));

    /// <inheritdoc/>
    public Task RemoveThreadAsync(string accountId, string threadId, CancellationToken cancellationToken)
    {
        RemoveThread(accountId, threadId);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task RemoveEndUserAsync(string accountId, string endUserId, CancellationToken cancellationToken)
    {
        RemoveEndUser(accountId, endUserId);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<List<(long DocumentId, float Score)>> SearchAsync(SearchScope scope, ReadOnlyMemory<float> query, int k, CancellationToken cancellationToken)
        => Task.FromResult(Search(scope, query.Span, k));

    /// <summary>Whether the account's searches go through its HNSW index.</summary>
    public bool IsApproximate(string accountId)
    {
        _lock.EnterReadLock();
        try
        {
            return _accounts.TryGetValue(accountId, out var account) && account.Approximate is not null;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>Frees the native HNSW indexes.</summary>
    public void Dispose()
    {
        _lock.EnterWriteLock();
        try
        {
            foreach (var account in _accounts.Values)
            {
                account.DropApproximate();
            }
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>Floats per vector; 0 until the first vector is added.</summary>
    public int Dimensions => Volatile.Read(ref _dimensions);

    /// <summary>Chunk vectors held (live rows).</summary>
    public long Count => Interlocked.Read(ref _rows);

    /// <summary>Adds a message's chunk vectors (<paramref name="vectors"/> is chunks × dimensions floats). False when the
    /// dimensions differ from the vectors already held (another embedding model): the message is then not added.</summary>
    public bool Add(long documentId, string accountId, string? endUserId, string? keyId, string threadId, long createdAtMs, int dimensions, ReadOnlySpan<float> vectors)
    {
        if (dimensions <= 0 || vectors.Length == 0 || vectors.Length % dimensions != 0)
        {
            return false;
        }

        _lock.EnterWriteLock();
        try
        {
            if (_dimensions == 0)
            {
                _dimensions = dimensions;
            }
            else if (_dimensions != dimensions)
            {
                return false;
            }

            if (!_accounts.TryGetValue(accountId, out var account))
            {
                _accounts[accountId] = account = new AccountVectors(dimensions);
            }
            else if (account.Holds(documentId))
            {
                return true; // already held (the change feed may return a document again)
            }

            int chunks = vectors.Length / dimensions;
            account.Add(new Entry(documentId, threadId, endUserId, keyId, createdAtMs, account.Rows, chunks), vectors);
            Interlocked.Add(ref _rows, chunks);
            if (account.Approximate is null && account.LiveRows > _approximateAbove)
            {
                account.BuildApproximate();
            }
            return true;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>Removes every message of a thread; the number of messages removed.</summary>
    public int RemoveThread(string accountId, string threadId) => Remove(accountId, e => string.Equals(e.ThreadId, threadId, StringComparison.Ordinal));

    /// <summary>Removes every message of an end user's threads; the number of messages removed.</summary>
    public int RemoveEndUser(string accountId, string endUserId) => Remove(accountId, e => string.Equals(e.EndUserId, endUserId, StringComparison.Ordinal));

    /// <summary>Removes the documents with these ids (those held); the number removed.</summary>
    public int RemoveDocuments(string accountId, IReadOnlySet<long> documentIds) => Remove(accountId, e => documentIds.Contains(e.DocumentId));

    /// <summary>The <paramref name="k"/> messages in <paramref name="scope"/> whose best chunk is nearest to <paramref name="query"/>, best first.</summary>
    public List<(long DocumentId, float Score)> Search(SearchScope scope, ReadOnlySpan<float> query, int k)
    {
        var best = new PriorityQueue<long, float>(k + 1);
        _lock.EnterReadLock();
        try
        {
            if (query.Length != _dimensions || !_accounts.TryGetValue(scope.AccountId, out var account))
            {
                return [];
            }

            if (account.Approximate is null || !account.SearchApproximate(scope, query, k, best))
            {
                best.Clear();
                account.Scan(scope, query, k, best);
            }
        }
        finally
        {
            _lock.ExitReadLock();
        }

        var hits = new List<(long, float)>(best.Count);
        while (best.TryDequeue(out long id, out float score))
        {
            hits.Add((id, score));
        }

        hits.Reverse();
        return hits;
    }

    private int Remove(string accountId, Func<Entry, bool> match)
    {
        _lock.EnterWriteLock();
        try
        {
            if (!_accounts.TryGetValue(accountId, out var account))
            {
                return 0;
            }

            int removed = 0;
            for (int i = 0; i < account.Entries.Count; i++)
            {
                var entry = account.Entries[i];
                if (!entry.Removed && match(entry))
                {
                    account.Clear(entry);
                    account.Entries[i] = entry with { Removed = true, ThreadId = "", EndUserId = null, KeyId = null };
                    Interlocked.Add(ref _rows, -entry.Chunks);
                    removed++;
                }
            }

            account.CompactIfSparse();
            if (account.Approximate is not null && account.LiveRows <= _approximateAbove / 2)
            {
                account.DropApproximate();
            }

            return removed;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>One indexed message: its filter fields and its rows in the account's matrix.</summary>
    private readonly record struct Entry(long DocumentId, string ThreadId, string? EndUserId, string? KeyId, long CreatedAtMs, int Row, int Chunks)
    {
        public bool Removed { get; init; }
    }

    /// <summary>One account's matrix and entries.</summary>
    private sealed class AccountVectors(int dimensions)
    {
        private readonly List<float[]> _blocks = [];
        private readonly List<int[]> _rowEntries = [];
        private readonly Dictionary<long, int> _entryByDocument = [];
        private int _removedRows;

        public List<Entry> Entries { get; private set; } = [];

        public int Rows { get; private set; }

        public int LiveRows => Rows - _removedRows;

        /// <summary>The HNSW index over the live chunk vectors (key: document id × 2^16 + chunk), or none below the threshold.</summary>
        public USearchIndex? Approximate { get; private set; }

        public bool Holds(long documentId) => _entryByDocument.ContainsKey(documentId);

        public ReadOnlySpan<float> Row(int row) => _blocks[row / BlockRows].AsSpan(row % BlockRows * dimensions, dimensions);

        public void Add(Entry entry, ReadOnlySpan<float> vectors)
        {
            for (int c = 0; c < entry.Chunks; c++)
            {
                int row = Rows++;
                if (row / BlockRows == _blocks.Count)
                {
                    _blocks.Add(new float[BlockRows * dimensions]);
                    _rowEntries.Add(new int[BlockRows]);
                }

                _rowEntries[row / BlockRows][row % BlockRows] = Entries.Count;

                vectors.Slice(c * dimensions, dimensions).CopyTo(_blocks[row / BlockRows].AsSpan(row % BlockRows * dimensions, dimensions));
            }

            _entryByDocument[entry.DocumentId] = Entries.Count;
            Entries.Add(entry);
            if (Approximate is not null)
            {
                AddApproximate(entry);
            }
        }

        public void BuildApproximate()
        {
            Approximate = new USearchIndex(MetricKind.Ip, ScalarKind.Float32, (ulong)dimensions, connectivity: 32, expansionAdd: 256, expansionSearch: 512);
            foreach (var entry in Entries)
            {
                if (!entry.Removed)
                {
                    AddApproximate(entry);
                }
            }
        }

        public void DropApproximate()
        {
            Approximate?.Dispose();
            Approximate = null;
        }

        private void AddApproximate(Entry entry)
        {
            var vector = new float[dimensions];
            for (int c = 0; c < Math.Min(entry.Chunks, ushort.MaxValue + 1); c++)
            {
                Row(entry.Row + c).CopyTo(vector);
                ulong key = Key(entry.DocumentId, c);
                if (Approximate!.Contains(key))
                {
                    Approximate.Remove(key);
                }

                Approximate.Add(key, vector);
            }
        }

        private static ulong Key(long documentId, int chunk) => ((ulong)documentId << 16) | (uint)chunk;

        /// <summary>Takes <see cref="OverFetch"/> × <paramref name="k"/> candidate chunks from the HNSW index and offers their
        /// admitted messages, re-scored exactly (best chunk), to <paramref name="best"/>. False when that may have missed
        /// admitted messages (fewer than k among the candidates while the index had more): the caller then scans exactly.</summary>
        public bool SearchApproximate(SearchScope scope, ReadOnlySpan<float> query, int k, PriorityQueue<long, float> best)
        {
            int fetch = Math.Max(k * OverFetch, 16);
            int found = Approximate!.Search(query.ToArray(), fetch, out ulong[] keys, out _);
            var seen = new HashSet<long>();
            for (int i = 0; i < found; i++)
            {
                long documentId = (long)(keys[i] >> 16);
                if (!seen.Add(documentId) || !_entryByDocument.TryGetValue(documentId, out int entryIndex))
                {
                    continue;
                }

                var entry = Entries[entryIndex];
                if (entry.Removed || !scope.Admits(entry.EndUserId, entry.KeyId, entry.ThreadId, entry.CreatedAtMs))
                {
                    continue;
                }

                float score = float.NegativeInfinity;
                for (int c = 0; c < entry.Chunks; c++)
                {
                    score = MathF.Max(score, TensorPrimitives.Dot(Row(entry.Row + c), query));
                }

                if (best.Count < k)
                {
                    best.Enqueue(documentId, score);
                }
                else if (best.TryPeek(out _, out float worst) && score > worst)
                {
                    best.DequeueEnqueue(documentId, score);
                }
            }

            return best.Count >= k || found < fetch;
        }

        /// <summary>Scores every row block by block (one SIMD dot product per row, the matrix read once in order), a message
        /// as its best chunk, keeping the best <paramref name="k"/> admitted messages in <paramref name="best"/>.</summary>
        public void Scan(SearchScope scope, ReadOnlySpan<float> query, int k, PriorityQueue<long, float> best)
        {
            bool filtered = scope.EndUserId is not null || scope.KeyId is not null || scope.ThreadId is not null || scope.AfterMs is not null || scope.BeforeMs is not null;
            var entries = Entries;
            int current = -1;
            bool admitted = false;
            float score = float.NegativeInfinity;
            for (int b = 0; b < _blocks.Count; b++)
            {
                var block = _blocks[b].AsSpan();
                int[] rowEntries = _rowEntries[b];
                int rows = Math.Min(BlockRows, Rows - b * BlockRows);
                for (int r = 0; r < rows; r++)
                {
                    int entryIndex = rowEntries[r];
                    if (entryIndex != current)
                    {
                        Offer(current, score);
                        current = entryIndex;
                        score = float.NegativeInfinity;
                        var entry = entries[entryIndex];
                        admitted = !entry.Removed && (!filtered || scope.Admits(entry.EndUserId, entry.KeyId, entry.ThreadId, entry.CreatedAtMs));
                    }

                    if (admitted)
                    {
                        score = MathF.Max(score, TensorPrimitives.Dot(block.Slice(r * dimensions, dimensions), query));
                    }
                }
            }

            Offer(current, score);

            void Offer(int entryIndex, float score)
            {
                if (entryIndex < 0 || float.IsNegativeInfinity(score))
                {
                    return;
                }

                if (best.Count < k)
                {
                    best.Enqueue(entries[entryIndex].DocumentId, score);
                }
                else if (best.TryPeek(out _, out float worst) && score > worst)
                {
                    best.DequeueEnqueue(entries[entryIndex].DocumentId, score);
                }
            }
        }

        public void Clear(Entry entry)
        {
            for (int c = 0; c < entry.Chunks; c++)
            {
                int row = entry.Row + c;
                _blocks[row / BlockRows].AsSpan(row % BlockRows * dimensions, dimensions).Clear();
                if (Approximate is not null && c <= ushort.MaxValue)
                {
                    Approximate.Remove(Key(entry.DocumentId, c));
                }
            }

            _entryByDocument.Remove(entry.DocumentId);

            _removedRows += entry.Chunks;
        }

        /// <summary>Rebuilds the matrix from the live entries when a quarter of its rows are removed ones.</summary>
        public void CompactIfSparse()
        {
            if (_removedRows == 0 || _removedRows * 4 < Rows)
            {
                return;
            }

            var old = Entries;
            var oldBlocks = _blocks.ToArray();
            _blocks.Clear();
            _rowEntries.Clear();
            _entryByDocument.Clear();
            var approximate = Approximate;
            Approximate = null;
            Entries = new List<Entry>(old.Count);
            Rows = 0;
            _removedRows = 0;
            foreach (var entry in old)
            {
                if (entry.Removed)
                {
                    continue;
                }

                var moved = entry with { Row = Rows };
                var vectors = new float[entry.Chunks * dimensions];
                for (int c = 0; c < entry.Chunks; c++)
                {
                    int row = entry.Row + c;
                    oldBlocks[row / BlockRows].AsSpan(row % BlockRows * dimensions, dimensions).CopyTo(vectors.AsSpan(c * dimensions));
                }

                Add(moved, vectors);
            }

            Approximate = approximate;

            foreach (var block in oldBlocks)
            {
                Array.Clear(block);
            }
        }
    }
}
