namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Search</c> section: search over thread messages (<c>GET /v1/search</c>, <c>IQlaudSearch</c>).</summary>
public sealed class SearchOptions
{
    /// <summary>Whether thread messages are indexed and searchable (default <see langword="true"/>).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>A catalog embedding model that embeds messages and queries for semantic search, called through Qlaud's own
    /// embeddings routing (metered to the default account, like any in-process call without a key). Unset: the embedding
    /// generator registered for search (for example by <c>AddLocalEmbeddings()</c> of Qlaud.Embeddings.Local) or, without one,
    /// keyword search only.</summary>
    public string? EmbeddingModel { get; set; }

    /// <summary>How many queued messages the indexer takes per batch (1 to 1000, default 64).</summary>
    public int IndexBatchSize { get; set; } = 64;

    /// <summary>How often the indexer looks for queued messages when nothing woke it, in milliseconds (10 to 60000, default 1000).</summary>
    public int IndexPollMilliseconds { get; set; } = 1000;

    /// <summary>The longest piece of a message embedded as one vector, in characters (200 to 20000, default 1000); longer
    /// messages are split into overlapping chunks and a message scores as its best chunk.</summary>
    public int ChunkCharacters { get; set; } = 1000;

    /// <summary>Above how many chunk vectors an account's semantic search goes through an approximate HNSW index instead of
    /// the exact scan (0, the default: never); candidates from it are re-scored exactly.</summary>
    /// <remarks>Off by default: the index is built while searches and indexing wait, which takes minutes at 100,000 vectors
    /// on two cores, and its recall on large uniform sets is low (see the README's Search section).</remarks>
    public long ApproximateAboveVectors { get; set; }
}
