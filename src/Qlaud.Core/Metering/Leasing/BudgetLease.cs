namespace Qlaud.Metering.Leasing;

/// <summary>This instance's lease on one key cap or wallet: what it was granted, what it billed against it, until when it may use it.</summary>
/// <remarks>
/// The counters are guarded by the owner's gate (<see cref="KeyState.Gate"/> or <see cref="AccountState.Gate"/>), the same
/// lock that guards the owner's reservations, so a reservation checks the lease in the critical section it already has.
/// What the lease can still fund is <c>Granted − Billed − reserved</c>; the database's lease row holds <c>Granted −</c> the
/// billed amounts the ledger writer has committed, so it never holds less than this instance may still bill.
/// </remarks>
internal sealed class BudgetLease(LeaseSubjectKind kind, string subjectId, Lock gate, object owner)
{
    /// <summary>The <see cref="KeyState"/> or <see cref="AccountState"/> whose reservations the lease funds.</summary>
    public object Owner { get; } = owner;

    public LeaseSubjectKind Kind { get; } = kind;

    public string SubjectId { get; } = subjectId;

    /// <summary>The owner's gate, which guards the fields below.</summary>
    public Lock Gate { get; } = gate;

    /// <summary>Serializes this instance's database requests for the lease, so concurrent requests short of budget ask once.</summary>
    public SemaphoreSlim Acquiring { get; } = new(1, 1);

    /// <summary>Granted to this instance since the lease row was created (minus what it returned).</summary>
    public long GrantedMicros { get; set; }

    /// <summary>Billed against the lease by this instance since the row was created.</summary>
    public long BilledMicros { get; set; }

    /// <summary>Until when the lease may fund new reservations (a margin before its expiry in the database).</summary>
    public long ValidUntilMs { get; set; }

    /// <summary>The last grant's size: a top-up is asked for when less than half of it is left.</summary>
    public long LastGrantMicros { get; set; }

    /// <summary>Changes with every grant, renewal or reset, so a request that waited for another's grant looks again.</summary>
    public int Version { get; set; }

    /// <summary>When a reservation last used the lease (Unix ms): an idle lease gives its unused part back.</summary>
    public long LastUsedMs { get; set; }

    /// <summary>No background top-up before this time (set after the pool refused one).</summary>
    public long NoTopUpBeforeMs { get; set; }

    private int _toppingUp;

    /// <summary>Claims the one background top-up in flight.</summary>
    public bool TryStartTopUp() => Interlocked.CompareExchange(ref _toppingUp, 1, 0) == 0;

    public void EndTopUp() => Volatile.Write(ref _toppingUp, 0);

    /// <summary>What the lease can still fund beyond <paramref name="reservedMicros"/>; 0 once it is no longer valid. Call with <see cref="Gate"/> held.</summary>
    public long Available(long reservedMicros, long nowMs) => nowMs < ValidUntilMs ? GrantedMicros - BilledMicros - reservedMicros : 0;

    /// <summary>How much more the lease needs to fund <paramref name="amountMicros"/>; 0 when it can. Call with <see cref="Gate"/> held.</summary>
    public long Shortfall(long amountMicros, long reservedMicros, long nowMs)
        => nowMs < ValidUntilMs ? Math.Max(0, amountMicros - (GrantedMicros - BilledMicros - reservedMicros)) : Math.Max(1, amountMicros);
}
