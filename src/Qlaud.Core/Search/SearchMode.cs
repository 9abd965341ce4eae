namespace Qlaud.Search;

/// <summary>How <see cref="IQlaudSearch"/> ranks messages.</summary>
public enum SearchMode
{
    /// <summary>Keyword and semantic rankings fused by reciprocal rank (keyword only when no embedding generator is available).</summary>
    Hybrid,

    /// <summary>Nearest message embeddings to the query's embedding (cosine similarity).</summary>
    Semantic,

    /// <summary>BM25 over the full-text index: case and accents folded, every query word optional, rarer words weigh more.</summary>
    Keyword,
}
