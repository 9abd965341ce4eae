using Qlaud.Metering.Leasing;

namespace Qlaud.Metering;

/// <summary>Money (and rate-limit tokens) held for one request between <see cref="ISpendGuard.ReserveAsync"/> and
/// <see cref="ISpendGuard.Settle"/> or <see cref="ISpendGuard.Release"/>; completes exactly once.</summary>
internal sealed class SpendReservation
{
    private int _completed;

    internal SpendReservation(QlaudCaller caller, SpendEstimate estimate, KeyState? key, AccountState account, long reservedAtMs, LeaseFunding leases = LeaseFunding.None)
    {
        Leases = leases;
        Caller = caller;
        Estimate = estimate;
        Key = key;
        Account = account;
        ReservedAtMs = reservedAtMs;
    }

    public QlaudCaller Caller { get; }

    public SpendEstimate Estimate { get; }

    /// <summary>The amount held against the key's cap and the wallet, in micro-USD.</summary>
    public long AmountMicros => Estimate.WorstCaseMicros;

    public long ReservedAtMs { get; }

    /// <summary>Whether the reservation was settled or released.</summary>
    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    internal KeyState? Key { get; }

    internal AccountState Account { get; }

    /// <summary>Which budget leases fund the reservation (none on a single-process store).</summary>
    internal LeaseFunding Leases { get; }

    /// <summary>Marks the reservation complete; false when it already was (a second settle or release does nothing).</summary>
    internal bool TryComplete() => Interlocked.Exchange(ref _completed, 1) == 0;
}
