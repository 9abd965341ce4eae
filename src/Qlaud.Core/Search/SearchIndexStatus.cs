namespace Qlaud.Search;

/// <summary>The search index's backlog and lag, as seen by this gateway instance.</summary>
/// <param name="Pending">Messages queued and not yet indexed.</param>
/// <param name="OldestPendingMs">When the oldest queued message was queued, Unix milliseconds; null when none is queued.</param>
/// <param name="Indexed">Messages this instance indexed since it started.</param>
/// <param name="LastLagMs">From queueing to searchable for the last indexed message, milliseconds; null before the first.</param>
/// <param name="MaxLagMs">The largest such lag since start, milliseconds; null before the first.</param>
/// <param name="Semantic">Whether an embedding generator is available (semantic and hybrid search).</param>
/// <param name="Vectors">Chunk vectors held in memory for semantic search (with a plugged vector store: those this process upserted and has not deleted).</param>
public sealed record SearchIndexStatus(long Pending, long? OldestPendingMs, long Indexed, long? LastLagMs, long? MaxLagMs, bool Semantic, long Vectors);
