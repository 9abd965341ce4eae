using Microsoft.Extensions.VectorData;

namespace Qlaud.Search;

/// <summary>
/// One chunk vector of an indexed thread message, as Qlaud writes it to a plugged <c>Microsoft.Extensions.VectorData</c>
/// collection (<c>AddQlaudVectorStore</c>): the filter fields Qlaud searches by and the vector.
/// </summary>
/// <remarks>The vector attribute's 384 dimensions and cosine similarity match the local MiniLM embeddings; a collection for
/// another embedding model is created with a <see cref="VectorStoreCollectionDefinition"/> naming its dimensions.</remarks>
public sealed class QlaudVectorRecord
{
    /// <summary>The record key: <c>{DocumentId}-{chunk}</c>.</summary>
    [VectorStoreKey]
    public string Key { get; set; } = "";

    /// <summary>The message's search document id (what Qlaud's search store knows it by).</summary>
    [VectorStoreData(IsIndexed = true)]
    public long DocumentId { get; set; }

    /// <summary>The account that owns the message's thread.</summary>
    [VectorStoreData(IsIndexed = true)]
    public string AccountId { get; set; } = "";

    /// <summary>The thread's end user, if any.</summary>
    [VectorStoreData(IsIndexed = true)]
    public string? EndUserId { get; set; }

    /// <summary>The API key that created the thread, if any.</summary>
    [VectorStoreData(IsIndexed = true)]
    public string? KeyId { get; set; }

    /// <summary>The message's thread.</summary>
    [VectorStoreData(IsIndexed = true)]
    public string ThreadId { get; set; } = "";

    /// <summary>When the message was created, Unix milliseconds.</summary>
    [VectorStoreData(IsIndexed = true)]
    public long CreatedAtMs { get; set; }

    /// <summary>The chunk's unit-length embedding.</summary>
    [VectorStoreVector(384, DistanceFunction = DistanceFunction.CosineSimilarity)]
    public ReadOnlyMemory<float> Vector { get; set; }
}
