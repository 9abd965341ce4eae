namespace Qlaud.Search;

/// <summary>Where message chunk vectors are kept and searched: the in-memory <see cref="VectorIndex"/> by default, or an app's
/// <c>Microsoft.Extensions.VectorData</c> collection (<see cref="VectorStoreCollectionVectors"/>).</summary>
internal interface ISearchVectors
{
    /// <summary>Whether the vectors live only in this process, so they are read from the search store at start-up.</summary>
    bool LoadedAtStartUp { get; }

    /// <summary>Floats per vector; 0 until the first vector is added.</summary>
    int Dimensions { get; }

    /// <summary>Chunk vectors added by this process and not removed (all of them for the in-memory index).</summary>
    long Count { get; }

    /// <summary>Adds a message's chunk vectors (chunks × dimensions floats); false when the dimensions differ from those held.</summary>
    Task<bool> AddAsync(long documentId, string accountId, string? endUserId, string? keyId, string threadId, long createdAtMs, int dimensions,
        ReadOnlyMemory<float> vectors, CancellationToken cancellationToken);

    /// <summary>Removes every message of a thread.</summary>
    Task RemoveThreadAsync(string accountId, string threadId, CancellationToken cancellationToken);

    /// <summary>Removes every message of an end user.</summary>
    Task RemoveEndUserAsync(string accountId, string endUserId, CancellationToken cancellationToken);

    /// <summary>The <paramref name="k"/> messages in scope whose best chunk is nearest to <paramref name="query"/>, best first.</summary>
    Task<List<(long DocumentId, float Score)>> SearchAsync(SearchScope scope, ReadOnlyMemory<float> query, int k, CancellationToken cancellationToken);
}
