namespace Qlaud.Metering.Leasing;

/// <summary>The shared side of budget leasing: the lease rows of every instance and the leased totals beside each cap and wallet.</summary>
/// <remarks>
/// <para>The invariant every statement keeps: for each key, its settled spend in the current period plus the sum of its
/// outstanding leases is at most its cap; for each wallet, the sum of its outstanding leases is at most its balance. A grant
/// checks and moves it in one statement on the locked key (or wallet) row; settling moves an amount from a lease to the
/// spend in the ledger writer's transaction; returning or reclaiming a lease subtracts it from the leased total in the same
/// statement that deletes or shrinks the lease row.</para>
/// </remarks>
internal interface IBudgetLeaseStore
{
    /// <summary>Adds to this instance's lease on a subject, when the pool holds at least <paramref name="needMicros"/>:
    /// <c>min(pool, max(need, min(slice, pool × percent / 100)))</c>, and sets the lease's expiry.</summary>
    /// <param name="nodeId">This instance.</param>
    /// <param name="kind">Key or wallet.</param>
    /// <param name="subjectId">The key id or account id.</param>
    /// <param name="needMicros">The least that is of use (at least 1).</param>
    /// <param name="sliceMicros"><c>Qlaud:Storage:LeaseSliceUsd</c> in micro-USD.</param>
    /// <param name="slicePercent"><c>Qlaud:Storage:LeaseSlicePercent</c>.</param>
    /// <param name="periodStartMs">The key's current cap period (spend settled in an earlier period does not count); 0 for wallets.</param>
    /// <param name="expiresAtMs">When the lease lapses unless renewed.</param>
    /// <param name="cancellationToken">Cancels the statement.</param>
    Task<LeaseGrant> GrantAsync(string nodeId, LeaseSubjectKind kind, string subjectId, long needMicros, long sliceMicros, int slicePercent,
        long periodStartMs, long expiresAtMs, CancellationToken cancellationToken);

    /// <summary>Moves the expiry of every lease of <paramref name="nodeId"/>; returns the subjects whose lease still exists.</summary>
    Task<IReadOnlyCollection<(LeaseSubjectKind Kind, string SubjectId)>> RenewAsync(string nodeId, long expiresAtMs, CancellationToken cancellationToken);

    /// <summary>Gives back part of a lease (unused budget the instance no longer wants to hold).</summary>
    Task ReturnAsync(string nodeId, LeaseSubjectKind kind, string subjectId, long amountMicros, CancellationToken cancellationToken);

    /// <summary>Deletes the leases that expired before <paramref name="nowMs"/> and returns them to their pools; the number deleted.</summary>
    Task<int> ReclaimExpiredAsync(long nowMs, CancellationToken cancellationToken);

    /// <summary>Deletes every lease of <paramref name="nodeId"/> and returns them to their pools (clean shutdown); the number deleted.</summary>
    Task<int> HandBackAsync(string nodeId, CancellationToken cancellationToken);

    /// <summary>Records that <paramref name="nodeId"/> is alive at <paramref name="nowMs"/>, forgets instances silent since
    /// before <paramref name="liveSinceMs"/>, and answers how many instances are alive (this one included).</summary>
    Task<int> HeartbeatAsync(string nodeId, long nowMs, long liveSinceMs, CancellationToken cancellationToken);
}
