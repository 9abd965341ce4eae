namespace Qlaud.Metering.Leasing;

/// <summary>The answer of <see cref="IBudgetLeaseStore.GrantAsync"/>.</summary>
/// <param name="PoolMicros">What the pool held before the grant (the cap or balance minus settled spend and every outstanding
/// lease); null when the subject has no cap in the database (a key whose cap was removed, or that no longer exists).</param>
/// <param name="GrantedMicros">What was added to this instance's lease; 0 when the pool could not cover the need.</param>
/// <param name="NewLease">Whether the grant created the lease row (rather than adding to a row this instance already held).</param>
internal readonly record struct LeaseGrant(long? PoolMicros, long GrantedMicros, bool NewLease);
