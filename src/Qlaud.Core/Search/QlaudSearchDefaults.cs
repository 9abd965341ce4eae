namespace Qlaud.Search;

/// <summary>Names search uses in dependency injection.</summary>
public static class QlaudSearchDefaults
{
    /// <summary>The service key of the <c>IEmbeddingGenerator&lt;string, Embedding&lt;float&gt;&gt;</c> that embeds messages and
    /// queries for semantic search (a keyed singleton). Qlaud.Embeddings.Local's <c>AddLocalEmbeddings()</c> registers one; an app
    /// can register any other under this key. Without one, <c>Qlaud:Search:EmbeddingModel</c> routes embeddings through the gateway.</summary>
    public const string EmbeddingGeneratorKey = "Qlaud.Search";
}
