using Qlaud.Billing;

namespace Qlaud.Tests.Wallet;

/// <summary>
/// An in-memory <see cref="IWalletLedger"/> for tests: balances per account, the applied entries, and the recorded entries
/// for unknown accounts. Compiled into the test projects that need it (a linked source file: it implements an internal interface).
/// </summary>
/// <remarks>
/// It keeps the seam's contract: one lock plays the role of the database transaction, and the dictionary of applied external ids
/// the role of the unique index, so an id is applied at most once however many deliveries race. The real implementation must get
/// the same guarantee from a unique index on the external id, written in the same transaction as the entry and the balance.
/// <see cref="BeforeApply"/> lets a test hold deliveries at the door to force races.
/// </remarks>
internal sealed class InMemoryWalletLedger : IWalletLedger
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _balances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ExternalLedgerEntry> _applied = new(StringComparer.Ordinal);
    private readonly List<ExternalLedgerEntry> _entries = [];
    private readonly Dictionary<string, ExternalLedgerEntry> _unmatched = new(StringComparer.Ordinal);
    private int _applyCalls;

    /// <summary>Creates a ledger with <paramref name="accounts"/>, each with a zero balance.</summary>
    public InMemoryWalletLedger(params string[] accounts)
    {
        foreach (var account in accounts)
        {
            _balances[account] = 0;
        }
    }

    /// <summary>Runs before each apply, outside the lock (a test can make deliveries wait for each other here).</summary>
    public Func<ExternalLedgerEntry, ValueTask>? BeforeApply { get; set; }

    /// <summary>How many times <see cref="ApplyExternalAsync"/> was called.</summary>
    public int ApplyCalls => Volatile.Read(ref _applyCalls);

    /// <summary>The applied entries, in order.</summary>
    public IReadOnlyList<ExternalLedgerEntry> Entries
    {
        get
        {
            lock (_gate)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>Entries recorded for unknown accounts (one per event id).</summary>
    public IReadOnlyList<ExternalLedgerEntry> Unmatched
    {
        get
        {
            lock (_gate)
            {
                return [.. _unmatched.Values];
            }
        }
    }

    public void AddAccount(string accountId, long balanceMicros = 0)
    {
        lock (_gate)
        {
            _balances[accountId] = balanceMicros;
        }
    }

    public long BalanceOf(string accountId)
    {
        lock (_gate)
        {
            return _balances.TryGetValue(accountId, out var balance) ? balance : throw new KeyNotFoundException(accountId);
        }
    }

    public async ValueTask<LedgerApplyResult> ApplyExternalAsync(ExternalLedgerEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        bool signMatchesKind = entry.Kind == ExternalLedgerEntryKind.TopUpCredit ? entry.AmountMicros > 0 : entry.AmountMicros < 0;
        if (!signMatchesKind || entry.ExternalId.Length is 0 or > 255)
        {
            throw new ArgumentException($"Malformed entry: {entry}", nameof(entry));
        }

        Interlocked.Increment(ref _applyCalls);
        if (BeforeApply is { } hook)
        {
            await hook(entry);
        }

        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (entry.AccountId is null || !_balances.ContainsKey(entry.AccountId))
            {
                _unmatched.TryAdd(entry.EventId, entry);
                return LedgerApplyResult.UnknownAccount;
            }

            if (!_applied.TryAdd(entry.ExternalId, entry))
            {
                return LedgerApplyResult.Duplicate;
            }

            _entries.Add(entry);
            _balances[entry.AccountId] += entry.AmountMicros;
            return LedgerApplyResult.Applied;
        }
    }

    public ValueTask<long> GetRefundedMicrosAsync(string chargeId, CancellationToken cancellationToken)
    {
        long total = 0;
        lock (_gate)
        {
            foreach (var entry in _entries)
            {
                if (entry.Kind == ExternalLedgerEntryKind.RefundDebit && entry.ChargeId == chargeId)
                {
                    total -= entry.AmountMicros;
                }
            }
        }

        return ValueTask.FromResult(total);
    }
}
