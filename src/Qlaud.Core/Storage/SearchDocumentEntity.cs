namespace Qlaud.Storage;

/// <summary>A thread message in the search index: who may see it, what filters select it, and its embedding.</summary>
/// <remarks>Removed with its message (foreign key, cascade). The SQLite store keeps the message's text in the FTS5 table
/// <c>search_fts</c> under the same row id, deleted with this row by a trigger.</remarks>
internal sealed class SearchDocumentEntity
{
    /// <summary>The row id, shared with the full-text table.</summary>
    public long Id { get; set; }

    public required string MessageId { get; set; }

    public required string ThreadId { get; set; }

    public required string AccountId { get; set; }

    /// <summary>The thread's end user; null for a thread of the account itself.</summary>
    public string? EndUserId { get; set; }

    /// <summary>The key that created the thread (a key without an end user sees only its own threads).</summary>
    public string? KeyId { get; set; }

    public required string Role { get; set; }

    public long CreatedAtMs { get; set; }

    /// <summary>The message's chunk embeddings, float32 little-endian, <see cref="Dimensions"/> floats each; null without an
    /// embedding generator.</summary>
    public byte[]? Vectors { get; set; }

    /// <summary>Floats per chunk embedding; 0 without vectors.</summary>
    public int Dimensions { get; set; }

    /// <summary>When the message was indexed, Unix milliseconds.</summary>
    public long IndexedAtMs { get; set; }
}
