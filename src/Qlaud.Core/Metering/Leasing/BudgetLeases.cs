using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Storage;

namespace Qlaud.Metering.Leasing;

/// <summary>This instance's budget leases on a shared database: grants when a reservation cannot be funded locally, top-ups
/// ahead of need, renewal, the return of idle and expired leases, and the hand-back at shutdown.</summary>
/// <remarks>
/// <para>Active only when <see cref="LeaseNode.IsActive"/> (PostgreSQL); <see cref="SpendGuard"/> does not consult it on SQLite.</para>
/// <para>A request reserves against the local lease in the gate it already holds (no database round trip). When the lease
/// cannot fund it, the request makes one grant (<see cref="IBudgetLeaseStore.GrantAsync"/>) while other short requests of the
/// same subject wait for that one and then look again. When less than half of the last grant is left after a reservation, a
/// top-up is asked for in the background. A grant the pool refuses is tried once more after the ledger's queue is flushed (settled
/// amounts move from the lease to the spend only when committed) and expired leases are reclaimed; then the request is
/// refused (402) before any upstream call.</para>
/// <para>Every quarter of <c>Qlaud:Storage:LeaseSeconds</c> a background loop renews this instance's leases, reclaims
/// every instance's expired leases, records a heartbeat (the live instance count divides per-key rate limits) and gives back
/// the unused part of leases not used since the previous round. A lease is used only until a quarter of the lease time before
/// its expiry in the database, so an instance that cannot renew stops using it before another instance may reclaim it.</para>
/// <para>At shutdown (after the ledger writer committed everything) every lease of this instance is deleted and its unused
/// budget returned at once.</para>
/// </remarks>
internal sealed partial class BudgetLeases : IHostedService, IAsyncDisposable
{
    private readonly IBudgetLeaseStore? _store;
    private readonly LedgerWriter _ledger;
    private readonly StorageInitializer _storage;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<(LeaseSubjectKind, string), BudgetLease> _held = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private Task? _loop;
    private int _stopped;
    private bool _abandoned;
    private volatile int _liveNodes = 1;

    /// <summary>Whether this instance wrote a heartbeat (so the hand-back also removes it from <c>gateway_nodes</c>).</summary>
    private bool _announced;

    private readonly RateLimitShare _share;

    public BudgetLeases(LeaseNode node, IStorageProvider storage, LedgerWriter ledger, StorageInitializer initializer, TimeProvider time,
        IOptions<QlaudOptions> options, ILogger<BudgetLeases> logger, RateLimitShare share)
    {
        _share = share;
        Node = node;
        _store = node.IsActive ? storage.CreateLeaseStore() : null;
        _ledger = ledger;
        _storage = initializer;
        _time = time;
        _logger = logger;
        var o = options.Value.Storage;
        SliceMicros = (long)decimal.Ceiling(o.LeaseSliceUsd * 1_000_000m);
        SlicePercent = o.LeaseSlicePercent;
        LeaseMs = o.LeaseSeconds * 1000L;
    }

    public LeaseNode Node { get; }

    /// <summary>Whether leasing is on (a shared database).</summary>
    public bool IsActive => _store is not null;

    public long SliceMicros { get; }

    public int SlicePercent { get; }

    /// <summary><c>Qlaud:Storage:LeaseSeconds</c> in milliseconds.</summary>
    public long LeaseMs { get; }

    /// <summary>The gateway instances seen alive in the last lease time, this one included (1 until the first heartbeat).</summary>
    public int LiveNodes => _liveNodes;

    /// <summary>The lease on <paramref name="key"/>'s cap. Call with the key's gate held.</summary>
    public BudgetLease For(KeyState key) => key.Lease ??= Track(new BudgetLease(LeaseSubjectKind.Key, key.Record.Id, key.Gate, key));

    /// <summary>The lease on <paramref name="account"/>'s wallet. Call with the account's gate held.</summary>
    public BudgetLease For(AccountState account) => account.Lease ??= Track(new BudgetLease(LeaseSubjectKind.Wallet, account.AccountId, account.Gate, account));

    private BudgetLease Track(BudgetLease lease)
    {
        _held[(lease.Kind, lease.SubjectId)] = lease;
        EnsureLoop();
        return lease;
    }

    /// <summary>Gets <paramref name="lease"/> at least <paramref name="shortMicros"/> more (one database round trip), unless
    /// another request changed it since it was seen at <paramref name="seenVersion"/>.</summary>
    /// <remarks>A grant the pool refuses is tried once more after flushing the ledger and reclaiming expired leases, unless
    /// <paramref name="background"/> (a top-up ahead of need, which may simply come back later).</remarks>
    public async ValueTask<LeaseAttempt> AcquireAsync(BudgetLease lease, long shortMicros, long periodStartMs, int seenVersion, CancellationToken cancellationToken,
        bool background = false)
    {
        var store = _store ?? throw new InvalidOperationException("Budget leasing is not active.");
        await lease.Acquiring.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _stopped) != 0)
            {
                return new LeaseAttempt(LeaseAttemptOutcome.Stopped);
            }

            lock (lease.Gate)
            {
                if (lease.Version != seenVersion)
                {
                    return new LeaseAttempt(LeaseAttemptOutcome.Changed);
                }
            }

            await _storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
            long now = NowMs();
            bool lapsed;
            lock (lease.Gate)
            {
                lapsed = now >= lease.ValidUntilMs && lease.GrantedMicros != lease.BilledMicros;
            }

            if (lapsed)
            {
                // Lapsed locally (no renewal for a while): renew first, so budget this instance still holds is not asked for twice.
                ApplyRenewal(await store.RenewAsync(Node.Id, now + LeaseMs, cancellationToken).ConfigureAwait(false), now);
                return new LeaseAttempt(LeaseAttemptOutcome.Granted);
            }

            var grant = await store.GrantAsync(Node.Id, lease.Kind, lease.SubjectId, shortMicros, SliceMicros, SlicePercent, periodStartMs, now + LeaseMs, cancellationToken).ConfigureAwait(false);
            if (grant.GrantedMicros == 0 && grant.PoolMicros is not null && !background)
            {
                // Charges settled here but not yet committed still count as leased, and a crashed instance's lease may have
                // expired without anyone reclaiming it yet: settle both, then ask once more.
                await FlushLedgerAsync(cancellationToken).ConfigureAwait(false);
                await store.ReclaimExpiredAsync(now, cancellationToken).ConfigureAwait(false);
                grant = await store.GrantAsync(Node.Id, lease.Kind, lease.SubjectId, shortMicros, SliceMicros, SlicePercent, periodStartMs, now + LeaseMs, cancellationToken).ConfigureAwait(false);
            }

            Apply(lease, grant, now);
            return grant.PoolMicros is not { } pool ? new LeaseAttempt(LeaseAttemptOutcome.Uncapped)
                : grant.GrantedMicros > 0 ? new LeaseAttempt(LeaseAttemptOutcome.Granted)
                : new LeaseAttempt(LeaseAttemptOutcome.Refused, pool);
        }
        finally
        {
            lease.Acquiring.Release();
        }
    }

    /// <summary>Asks for more in the background when less than half of the last grant is left. Call after a reservation,
    /// without the gate (it reads the lease under it).</summary>
    public void TopUpIfLow(BudgetLease lease, long reservedMicros, long periodStartMs)
    {
        long now = NowMs();
        int version;
        lock (lease.Gate)
        {
            lease.LastUsedMs = now;
            if (lease.Available(reservedMicros, now) * 2 >= lease.LastGrantMicros || now < lease.NoTopUpBeforeMs)
            {
                return;
            }

            version = lease.Version;
        }

        if (!lease.TryStartTopUp())
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                var attempt = await AcquireAsync(lease, 1, periodStartMs, version, CancellationToken.None, background: true).ConfigureAwait(false);
                if (attempt.Outcome == LeaseAttemptOutcome.Refused)
                {
                    lock (lease.Gate)
                    {
                        lease.NoTopUpBeforeMs = NowMs() + Math.Max(1000, LeaseMs / 60);
                    }
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.TopUpFailed(_logger, ex, lease.Kind.ToString(), lease.SubjectId);
            }
            finally
            {
                lease.EndTopUp();
            }
        });
    }

    private void Apply(BudgetLease lease, LeaseGrant grant, long now)
    {
        lock (lease.Gate)
        {
            if (grant.GrantedMicros > 0)
            {
                // A new row means the database holds nothing else for this instance: what was granted before is gone.
                lease.GrantedMicros = grant.NewLease ? lease.BilledMicros + grant.GrantedMicros : lease.GrantedMicros + grant.GrantedMicros;
                lease.LastGrantMicros = grant.GrantedMicros;
                lease.ValidUntilMs = now + LeaseMs - (LeaseMs / 4);
                lease.LastUsedMs = now;
            }

            lease.Version++;
        }
    }

    private void ApplyRenewal(IReadOnlyCollection<(LeaseSubjectKind Kind, string SubjectId)> held, long sentAtMs)
    {
        var still = new HashSet<(LeaseSubjectKind, string)>(held);
        foreach (var lease in _held.Values)
        {
            lock (lease.Gate)
            {
                if (still.Contains((lease.Kind, lease.SubjectId)))
                {
                    lease.ValidUntilMs = sentAtMs + LeaseMs - (LeaseMs / 4);
                }
                else if (lease.GrantedMicros != lease.BilledMicros)
                {
                    // The row is gone (reclaimed after this instance failed to renew it): nothing is held any more.
                    lease.GrantedMicros = lease.BilledMicros;
                    lease.ValidUntilMs = 0;
                }

                lease.Version++;
            }
        }
    }

    private async Task FlushLedgerAsync(CancellationToken cancellationToken)
    {
        if (_ledger.Queued == 0)
        {
            return;
        }

        try
        {
            await _ledger.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (StorageUnavailableException)
        {
            // The refusal stands; the ledger's own admission check reports the outage.
        }
    }

    private void EnsureLoop()
    {
        if (Volatile.Read(ref _loop) is not null || _store is null)
        {
            return;
        }

        lock (_gate)
        {
            if (_loop is null && Volatile.Read(ref _stopped) == 0)
            {
                _loop = Task.Run(() => RunAsync(_stopping.Token));
            }
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var period = TimeSpan.FromMilliseconds(LeaseMs / 4);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, _time, cancellationToken).ConfigureAwait(false);
                await RoundAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The leases stay usable until their local validity ends; the next round tries again.
                Log.RoundFailed(_logger, ex);
            }
        }
    }

    private readonly SemaphoreSlim _rounds = new(1, 1);

    /// <summary>One round of the background loop: renew, reclaim expired leases, heartbeat, give back idle leases.</summary>
    internal async Task RoundAsync(CancellationToken cancellationToken)
    {
        await _rounds.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await RoundCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _rounds.Release();
        }
    }

    private async Task RoundCoreAsync(CancellationToken cancellationToken)
    {
        var store = _store!;
        await _storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        long now = NowMs();
        ApplyRenewal(await store.RenewAsync(Node.Id, now + LeaseMs, cancellationToken).ConfigureAwait(false), now);
        int reclaimed = await store.ReclaimExpiredAsync(now, cancellationToken).ConfigureAwait(false);
        if (reclaimed > 0)
        {
            Log.Reclaimed(_logger, reclaimed);
        }

        await HeartbeatAsync(cancellationToken).ConfigureAwait(false);
        foreach (var lease in _held.Values)
        {
            long unused = 0;
            await lease.Acquiring.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                lock (lease.Gate)
                {
                    // Idle for a whole round: keep what is reserved or billed-but-unwritten, give the rest back to the pool.
                    if (now - lease.LastUsedMs >= LeaseMs / 4 && now < lease.ValidUntilMs)
                    {
                        unused = lease.GrantedMicros - lease.BilledMicros - Reserved(lease);
                        if (unused > 0)
                        {
                            lease.GrantedMicros -= unused;
                            lease.Version++;
                        }
                    }
                }

                if (unused > 0)
                {
                    try
                    {
                        await store.ReturnAsync(Node.Id, lease.Kind, lease.SubjectId, unused, cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        lock (lease.Gate)
                        {
                            lease.GrantedMicros += unused; // still held in the database
                        }

                        throw;
                    }
                }
            }
            finally
            {
                lease.Acquiring.Release();
            }
        }
    }

    /// <summary>Records this instance as alive and splits per-key rate limits between the instances alive in the last lease time.</summary>
    internal async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        long now = NowMs();
        int live = Math.Max(1, await _store!.HeartbeatAsync(Node.Id, now, now - LeaseMs, cancellationToken).ConfigureAwait(false));
        _liveNodes = live;
        _share.SetNodes(live);
        Volatile.Write(ref _announced, true);
    }

    /// <summary>What the lease's owner has reserved on this instance (call with the gate held).</summary>
    private static long Reserved(BudgetLease lease) => lease.Owner switch
    {
        KeyState key => key.ReservedMicros,
        AccountState account => account.ReservedMicros,
        _ => 0,
    };

    /// <summary>Records this instance's first heartbeat (so rate limits are split from the first request) and starts the loop.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            return;
        }

        await _storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        await HeartbeatAsync(cancellationToken).ConfigureAwait(false);
        EnsureLoop();
    }

    /// <summary>Stops the loop and, after the ledger writer committed everything, deletes this instance's leases and returns
    /// their unused budget to the pool.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0 || _store is null)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        Task? loop;
        lock (_gate)
        {
            loop = _loop;
        }

        if (loop is not null)
        {
            await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (_abandoned || (_held.IsEmpty && !Volatile.Read(ref _announced)))
        {
            return;
        }

        // Wait for grants in flight (a background top-up); later ones see the stop and ask for nothing.
        foreach (var lease in _held.Values)
        {
            await lease.Acquiring.WaitAsync(cancellationToken).ConfigureAwait(false);
            lease.Acquiring.Release();
        }

        // Settled charges move from the lease to the spend when committed: commit them all before the rest goes back.
        if (!_held.IsEmpty)
        {
            await _ledger.StopAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (var lease in _held.Values)
        {
            lock (lease.Gate)
            {
                lease.GrantedMicros = lease.BilledMicros;
                lease.ValidUntilMs = 0;
                lease.Version++;
            }
        }

        try
        {
            int returned = await _store.HandBackAsync(Node.Id, cancellationToken).ConfigureAwait(false);
            Log.HandedBack(_logger, returned, Node.Id);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.HandBackFailed(_logger, ex, LeaseMs / 1000);
        }
    }

    /// <summary>Stops as a crashed instance would: no renewal, no hand-back (its leases return to the pool when they expire).</summary>
    internal void Abandon()
    {
        _abandoned = true;
        _stopping.Cancel();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Renewing or reclaiming budget leases failed; this instance's leases stay usable until their local validity ends")]
        public static partial void RoundFailed(ILogger logger, Exception exception);

        [LoggerMessage(2, LogLevel.Warning, "A background top-up of the {Kind} lease {SubjectId} failed; requests lease synchronously when short")]
        public static partial void TopUpFailed(ILogger logger, Exception exception, string kind, string subjectId);

        [LoggerMessage(3, LogLevel.Information, "Reclaimed {Count} expired budget leases of instances that stopped renewing them")]
        public static partial void Reclaimed(ILogger logger, int count);

        [LoggerMessage(4, LogLevel.Information, "Handed back {Count} budget leases of instance {NodeId} at shutdown")]
        public static partial void HandedBack(ILogger logger, int count, string nodeId);

        [LoggerMessage(5, LogLevel.Error, "Handing back this instance's budget leases at shutdown failed; they return to the pool when they expire (within {LeaseSeconds} s)")]
        public static partial void HandBackFailed(ILogger logger, Exception exception, long leaseSeconds);
    }
}
