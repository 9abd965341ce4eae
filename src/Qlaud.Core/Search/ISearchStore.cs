namespace Qlaud.Search;

/// <summary>Where the search index is persisted: the indexing queue, indexed documents with their text and embeddings, and
/// the keyword (full-text) search over them.</summary>
/// <remarks>The search service talks only to this interface; the SQLite implementation uses FTS5, a PostgreSQL one would use
/// <c>tsvector</c>. A document goes when its message goes (the message is the document's owner in the schema).</remarks>
internal interface ISearchStore
{
    /// <summary>The oldest queued messages, up to <paramref name="max"/>, with what indexing them needs (null fields when the
    /// message no longer exists).</summary>
    Task<IReadOnlyList<QueuedMessage>> ReadQueueAsync(int max, CancellationToken cancellationToken);

    /// <summary>Writes the documents of messages that still exist and removes the queue rows, in one transaction. Returns the
    /// document id of each written document (0 where its message was gone).</summary>
    Task<long[]> WriteAsync(IReadOnlyList<IndexedMessage> documents, IReadOnlyList<long> queueIds, long nowMs, CancellationToken cancellationToken);

    /// <summary>The best BM25 matches in <paramref name="scope"/> for any of <paramref name="terms"/>, best first.</summary>
    Task<IReadOnlyList<StoredHit>> KeywordSearchAsync(SearchScope scope, IReadOnlyList<string> terms, int limit, CancellationToken cancellationToken);

    /// <summary>The documents with these ids (those still present), snippets highlighting <paramref name="terms"/> where they occur.</summary>
    Task<IReadOnlyList<StoredHit>> ReadHitsAsync(IReadOnlyList<long> documentIds, IReadOnlyList<string> terms, CancellationToken cancellationToken);

    /// <summary>Every document that has embeddings, for the in-memory vector index at start-up.</summary>
    IAsyncEnumerable<StoredVectors> ReadVectorsAsync(CancellationToken cancellationToken);

    /// <summary>How many documents an end user's threads have in the index.</summary>
    Task<int> CountEndUserAsync(string accountId, string endUserId, CancellationToken cancellationToken);

    /// <summary>How many messages wait in the queue, and when the oldest was queued.</summary>
    Task<(long Pending, long? OldestMs)> QueueStateAsync(CancellationToken cancellationToken);
}

/// <summary>A queue row and its message (fields null when the message was deleted before it was indexed).</summary>
internal sealed record QueuedMessage(long QueueId, string MessageId, long EnqueuedAtMs, string? ThreadId, string? AccountId, string? EndUserId,
    string? KeyId, string? Role, string? ContentJson, long CreatedAtMs);

/// <summary>A message ready to be written to the index.</summary>
internal sealed record IndexedMessage(string MessageId, string ThreadId, string AccountId, string? EndUserId, string? KeyId, string Role,
    long CreatedAtMs, string Text, float[][]? Vectors);

/// <summary>A document read back for a hit.</summary>
internal sealed record StoredHit(long DocumentId, string MessageId, string ThreadId, string Role, long CreatedAtMs, string Snippet, double Score)
{
    /// <summary>How many of the query's words the document contains (keyword hits).</summary>
    public int MatchedTerms { get; init; }
}

/// <summary>A document's embeddings with what filtering needs.</summary>
internal sealed record StoredVectors(long DocumentId, string AccountId, string? EndUserId, string? KeyId, string ThreadId, long CreatedAtMs, int Dimensions, byte[] Vectors);
