namespace Qlaud.Search;

/// <summary>What other gateway instances on a shared database indexed and deleted: the store side of keeping each instance's
/// in-memory vector index (<see cref="VectorIndex"/>) in step with the stored documents. Implemented by the PostgreSQL search
/// store; a SQLite database serves one process, which indexes and deletes everything itself.</summary>
internal interface ISearchChangeFeed
{
    /// <summary>The documents with vectors written, and the documents deleted, since <paramref name="watermark"/> (and
    /// possibly some seen before: the reader skips documents it holds), with the watermark of the next read. With a
    /// <see langword="null"/> watermark only the watermark is read: take it before loading the stored vectors.</summary>
    Task<SearchChanges> ReadChangesAsync(string? watermark, CancellationToken cancellationToken);
}

/// <summary>One read of the change feed.</summary>
/// <param name="Watermark">Where the next read starts.</param>
/// <param name="Written">Documents with vectors written since the previous read.</param>
/// <param name="Deleted">Documents deleted since the previous read (account id, document id).</param>
internal sealed record SearchChanges(string Watermark, IReadOnlyList<StoredVectors> Written, IReadOnlyList<(string AccountId, long DocumentId)> Deleted);
