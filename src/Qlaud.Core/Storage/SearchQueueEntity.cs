namespace Qlaud.Storage;

/// <summary>A message waiting to be indexed: written in the same transaction as the message, removed once it is indexed, so
/// a message persisted before a crash or restart is indexed afterwards.</summary>
internal sealed class SearchQueueEntity
{
    public long Id { get; set; }

    public required string MessageId { get; set; }

    /// <summary>When the message was queued, Unix milliseconds (the indexing lag is measured from it).</summary>
    public long EnqueuedAtMs { get; set; }
}
