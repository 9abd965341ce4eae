using Qlaud.Security;

namespace Qlaud.Metering;

/// <summary>A minted key as this node knows it: its settings (swapped whole on change) and its live spend counters.</summary>
/// <remarks>
/// The counters are authoritative on this node: settled spend is counted here at once and reaches the database with the
/// ledger batch. They are loaded from the database once, when the key is first seen, and never reloaded while the process
/// runs (a reload could miss entries still waiting in the ledger writer).
/// </remarks>
internal sealed class KeyState
{
    private ApiKeyRecord _record;
    private KeyRateLimits? _limits;
    private long _lastUsedMs;

    /// <summary>How many instances share the key's rate limits (null: this instance alone).</summary>
    private readonly Leasing.RateLimitShare? _share;

    public KeyState(ApiKeyRecord record, string keyHash, long lifetimeSpentMicros, long periodSpentMicros, long periodStartMs, long? lastUsedMs,
        Leasing.RateLimitShare? share = null)
    {
        _share = share;
        _record = record;
        KeyHash = keyHash;
        LifetimeSpentMicros = lifetimeSpentMicros;
        PeriodSpentMicros = periodSpentMicros;
        PeriodStartMs = periodStartMs;
        _lastUsedMs = lastUsedMs ?? 0;
    }

    public ApiKeyRecord Record => Volatile.Read(ref _record);

    public string KeyHash { get; }

    /// <summary>Guards the spend counters below.</summary>
    public Lock Gate { get; } = new();

    public long LifetimeSpentMicros { get; set; }

    public long PeriodSpentMicros { get; set; }

    public long PeriodStartMs { get; set; }

    public long ReservedMicros { get; set; }

    /// <summary>This instance's lease on the key's cap when the database is shared; null on a single-process store. Guarded by <see cref="Gate"/>.</summary>
    public Leasing.BudgetLease? Lease { get; set; }

    /// <summary>Set when the shared database holds no cap for the key although this instance's settings still show one (removed
    /// by another instance): nothing to lease until the settings are re-read. Guarded by <see cref="Gate"/>.</summary>
    public bool Uncapped { get; set; }

    private long _refreshedAtMs;

    /// <summary>When the settings were last read from the database (Unix ms).</summary>
    public long RefreshedAtMs => Interlocked.Read(ref _refreshedAtMs);

    public void MarkRefreshed(long nowMs) => Interlocked.Exchange(ref _refreshedAtMs, nowMs);

    /// <summary>Claims the refresh of stale settings: true for exactly one caller per stale period.</summary>
    public bool TryClaimRefresh(long seenRefreshedAtMs, long nowMs) => Interlocked.CompareExchange(ref _refreshedAtMs, nowMs, seenRefreshedAtMs) == seenRefreshedAtMs;

    public long? LastUsedMs => Interlocked.Read(ref _lastUsedMs) is var v && v > 0 ? v : null;

    public void Touch(long nowMs)
    {
        long seen = Interlocked.Read(ref _lastUsedMs);
        while (nowMs > seen)
        {
            long previous = Interlocked.CompareExchange(ref _lastUsedMs, nowMs, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    /// <summary>The rate limiters for the current settings; null when the key has none.</summary>
    public KeyRateLimits? Limits
    {
        get
        {
            var record = Record;
            if (record.RpmLimit is null && record.TpmLimit is null)
            {
                return null;
            }

            var limits = Volatile.Read(ref _limits);
            int nodes = _share?.Nodes ?? 1;
            if (limits is not null && limits.Rpm == record.RpmLimit && limits.Tpm == record.TpmLimit && limits.Nodes == nodes)
            {
                return limits;
            }

            var created = new KeyRateLimits(record.RpmLimit, record.TpmLimit, nodes);
            var raced = Interlocked.CompareExchange(ref _limits, created, limits);
            if (raced != limits)
            {
                created.Dispose();
                return raced!;
            }

            limits?.Dispose();
            return created;
        }
    }

    public void Update(ApiKeyRecord record)
    {
        Volatile.Write(ref _record, record);
        Uncapped = false;
    }

    /// <summary>Replaces the settings with <paramref name="record"/> only if they are still <paramref name="expected"/> (no
    /// change was made on this node since they were read): false when a newer change is kept.</summary>
    public bool TryReplace(ApiKeyRecord expected, ApiKeyRecord record)
    {
        if (!ReferenceEquals(Interlocked.CompareExchange(ref _record, record, expected), expected))
        {
            return false;
        }

        Uncapped = false;
        return true;
    }

    public void DisposeLimits() => Interlocked.Exchange(ref _limits, null)?.Dispose();

    /// <summary>Starts a new cap period when the clock passed the current one. Call with <see cref="Gate"/> held.</summary>
    public void RollPeriod(long nowMs)
    {
        long start = LimitResetPeriods.Start(Record.LimitReset, nowMs);
        if (start != PeriodStartMs)
        {
            PeriodStartMs = start;
            PeriodSpentMicros = 0;
        }
    }

    /// <summary>What is left under the cap in the current period (not counting reservations); null without a cap.</summary>
    public long? RemainingMicros(long nowMs)
    {
        lock (Gate)
        {
            RollPeriod(nowMs);
            return Record.MaxSpendMicros is { } cap ? Math.Max(0, cap - PeriodSpentMicros) : null;
        }
    }
}
