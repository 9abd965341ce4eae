using Qlaud.Storage;

namespace Qlaud.Batches;

/// <summary>Claims on batch work in a database shared by several gateway instances: a request (or a whole batch, for its
/// native submission, polling and finalization) is worked on by the one instance that holds its claim until the claim expires.
/// Every claim carries the instance's id and an expiry; a live instance renews its claims, so only a dead (or stalled)
/// instance's claims lapse and become claimable by another.</summary>
/// <remarks>Only the shared provider (PostgreSQL) has claims; on SQLite one process owns the database and the worker reads
/// pending requests directly (<see cref="IStorageProvider.CreateBatchClaims"/> returns null).</remarks>
internal interface IBatchClaims
{
    /// <summary>Claims up to <paramref name="take"/> pending requests of the batch after position <paramref name="afterIndex"/>
    /// that no live instance holds (unclaimed, or their claim ended before <paramref name="nowMs"/>), until <paramref name="untilMs"/>;
    /// rows another instance is claiming at the same moment are skipped, never waited for. Returned in order.</summary>
    Task<List<BatchRequestEntity>> ClaimPendingAsync(string nodeId, string batchId, int afterIndex, int take, long nowMs, long untilMs, CancellationToken cancellationToken);

    /// <summary>Confirms, just before the request is sent upstream, that this instance still holds its claim on it and extends the
    /// claim to <paramref name="untilMs"/>; false when the claim lapsed (this instance stalled past it) and the request may have
    /// been claimed by another instance or answered, so this instance must not send it.</summary>
    Task<bool> ConfirmAsync(string nodeId, long requestId, long nowMs, long untilMs, CancellationToken cancellationToken);

    /// <summary>Claims the batch itself (its native submission or polling, its finalization) unless another instance holds a live
    /// claim on it; true when this instance holds it now.</summary>
    Task<bool> ClaimBatchAsync(string nodeId, string batchId, long nowMs, long untilMs, CancellationToken cancellationToken);

    /// <summary>Lets go of this instance's claim on the batch.</summary>
    Task ReleaseBatchAsync(string nodeId, string batchId, CancellationToken cancellationToken);

    /// <summary>Extends every claim this instance holds (pending requests and batches) to <paramref name="untilMs"/>.</summary>
    Task RenewAsync(string nodeId, long untilMs, CancellationToken cancellationToken);

    /// <summary>Lets go of every claim this instance holds, so another instance can take the work at once.</summary>
    Task ReleaseAllAsync(string nodeId, CancellationToken cancellationToken);

    /// <summary>Gives the final <paramref name="state"/> (canceled or expired) to the batch's pending requests that no other live
    /// instance holds; those another instance is sending keep their claim and get their result from it.</summary>
    Task<int> EndPendingAsync(string nodeId, string batchId, BatchRequestState state, long nowMs, CancellationToken cancellationToken);
}
