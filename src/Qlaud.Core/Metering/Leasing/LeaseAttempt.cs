namespace Qlaud.Metering.Leasing;

/// <summary>What <see cref="BudgetLeases.AcquireAsync"/> did: the lease changed (look again), the pool cannot fund the need
/// (<see cref="PoolMicros"/> is what it holds), or the subject has no cap in the database.</summary>
internal readonly record struct LeaseAttempt(LeaseAttemptOutcome Outcome, long PoolMicros = 0);

/// <summary>The outcomes of <see cref="LeaseAttempt"/>.</summary>
internal enum LeaseAttemptOutcome
{
    /// <summary>Another request changed the lease meanwhile (a grant, renewal or reset): check it again.</summary>
    Changed,

    /// <summary>This request's grant (or renewal) added to the lease: check it again.</summary>
    Granted,

    /// <summary>No instance can fund the need: the cap (or balance) minus settled spend and every outstanding lease is too small.</summary>
    Refused,

    /// <summary>The key has no cap in the database (removed by another instance): nothing to lease.</summary>
    Uncapped,

    /// <summary>This instance is shutting down and has handed its leases back: nothing more is leased.</summary>
    Stopped,
}
