using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Storage;

namespace Qlaud.Metering;

/// <summary>Writes settled usage to the ledger in batches, off the request path, with wallet balances and key spend updated in the same transaction.</summary>
/// <remarks>
/// <para>Each batch is one transaction on the writer's own connection with prepared statements (see <see cref="LedgerSession"/>):
/// the entries are inserted, each wallet's balance moves by the sum of its entries and each key's spend counters by the sum
/// of its own, so the ledger, the wallets and the keys always agree in the database. A batch is whatever queued while the
/// writer lingered (up to 50 ms after the first entry) or committed the previous batch, up to
/// <c>Qlaud:Metering:LedgerBatchSize</c> entries.</para>
/// <para>The writer is a thread of its own, not a thread-pool loop: SQLite's calls block (a batch held a pool worker for a
/// millisecond or more), and every wake-up of an idle pool worker also pays the pool's spin-wait. It wakes once per batch (the
/// first entry after an empty queue), lingers in a plain timed wait, and writes synchronously.</para>
/// <para>The writer gives up its core every few rows while it keeps up (see <see cref="LedgerSession"/>), and stops doing so
/// while <c>Qlaud:Metering:MaxUnwrittenEntries</c> or more entries wait to be committed: on a saturated machine (64 connections,
/// an instant upstream, both cores busy) the yielding writer got so little CPU that its queue grew by thousands of entries a
/// second; without the yields there it keeps up.</para>
/// <para>Backpressure at admission: while <c>Qlaud:Metering:MaxUnwrittenEntries</c> entries are settled but not committed,
/// <see cref="AdmitAsync"/> makes a new metered request wait (asynchronously, before any upstream call) until a commit brings
/// the backlog below the bound, and refuses it (503, <c>ledger_queue_full</c>) after <c>Qlaud:Limits:StorageTimeoutSeconds</c>.
/// So the entries a crash can lose are bounded: every entry not committed at a crash belongs to a request that was admitted
/// while fewer than the bound were unwritten, so at most the bound minus one plus the requests admitted and not yet settled
/// at the last admission.</para>
/// <para>On a clean shutdown the writer stops after the web server has drained and commits everything still queued. A
/// failed commit is retried (never dropped) until shutdown. A process crash loses only entries that were settled but not
/// yet committed (bounded as above); with WAL a committed batch survives a process crash.</para>
/// <para>Bounded and fail-safe: while a commit is failing (the database is read-only, full, gone) or
/// <c>Qlaud:Limits:LedgerQueueCapacity</c> entries wait, <see cref="AdmissionError"/> refuses new metered requests (503), so
/// no money is spent that cannot be recorded; requests already admitted still queue their entries, which stay in memory, in
/// order, and are committed by the retries once the database accepts writes again (their charges already count in the
/// in-memory caps and balances). <see cref="FlushAsync"/> fails at once while the writer is failing and otherwise waits at
/// most <c>Qlaud:Limits:StorageTimeoutSeconds</c>.</para>
/// </remarks>
internal sealed partial class LedgerWriter : IHostedService, IAsyncDisposable
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IDbContextFactory<QlaudDbContext> _db;
    private readonly StorageInitializer _storage;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _batchSize;
    private readonly int _capacity;
    private readonly int _maxUnwritten;

    /// <summary>The backlog below which a request is admitted at once: the smaller of the bound and the queue capacity.</summary>
    private readonly int _admitBelow;
    private readonly TimeSpan _flushTimeout;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Completes when the writer thread has committed everything and exited; null until the thread starts.</summary>
    private Task? _loop;

    /// <summary>The writer thread's open connection and prepared statements; only that thread touches it.</summary>
    private LedgerSession? _session;

    /// <summary>Set when the queue gets its first entry (or a flush, or shutdown): wakes the idle writer.</summary>
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 1);

    /// <summary>Set when a batch is full, a flush is asked for or the writer stops: ends the linger early.</summary>
    private readonly ManualResetEventSlim _nudge = new(false, spinCount: 1);

    /// <summary>Entries (and flush requests) in the queue, so a full batch can end the linger without the writer waking per entry.</summary>
    private int _queued, _flushesQueued;
    private bool _completing;

    /// <summary>Entries enqueued and not yet committed: the queue plus the batch being written (or retried).</summary>
    private int _uncommitted;

    /// <summary>When the current run of failed commits began (Unix ms), or 0 while commits succeed.</summary>
    private long _failingSinceMs;

    /// <summary>The exception type and message of the last failed commit, for readiness and error messages.</summary>
    private volatile string? _lastFailure;

    /// <summary>The longest wait between two attempts of a failing commit.</summary>
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(2);

    /// <summary>Completed (and cleared) by the writer after each commit attempt; created by the first request that waits at
    /// admission, so nothing is allocated while the writer keeps up.</summary>
    private TaskCompletionSource? _committed;

    /// <summary>How long the writer waits for more entries before committing a batch that is not full. A real-time wait on
    /// purpose (not the injected clock): it only groups writes, and a flush or shutdown ends it at once.</summary>
    /// <remarks>50 ms rather than 20: at one connection with an instant upstream, fewer and larger commits (with the default
    /// batch of 256) took metering's throughput cost from 8 % to 1 % and its added p99 from +0.12 to +0.05 ms; a crash can
    /// lose up to this much settled usage (<c>benchmarks/results/load-c1-lat0-writer-experiments.md</c>).</remarks>
    private static readonly TimeSpan LingerTime = TimeSpan.FromMilliseconds(50);

    /// <summary>This instance's id in the lease table, when settled charges move out of budget leases (a shared database).</summary>
    private readonly string? _leaseNode;

    public LedgerWriter(IDbContextFactory<QlaudDbContext> db, StorageInitializer storage, TimeProvider time, IOptions<QlaudOptions> options, ILogger<LedgerWriter> logger,
        Leasing.LeaseNode? node = null)
    {
        _leaseNode = node is { IsActive: true } ? node.Id : null;
        _db = db;
        _storage = storage;
        _time = time;
        _logger = logger;
        _batchSize = options.Value.Metering.LedgerBatchSize;
        _capacity = options.Value.Limits.LedgerQueueCapacity;
        _maxUnwritten = options.Value.Metering.MaxUnwrittenEntries;
        _admitBelow = Math.Min(_maxUnwritten, _capacity);
        _flushTimeout = TimeSpan.FromSeconds(options.Value.Limits.StorageTimeoutSeconds);
    }

    /// <summary>Entries waiting to be committed (queued, or in the batch being written).</summary>
    public int Queued => Volatile.Read(ref _uncommitted);

    /// <summary><c>Qlaud:Limits:LedgerQueueCapacity</c>.</summary>
    public int Capacity => _capacity;

    /// <summary><c>Qlaud:Metering:MaxUnwrittenEntries</c>.</summary>
    public int MaxUnwritten => _maxUnwritten;

    /// <summary>When the current run of failed commits began, or null while the ledger is being written.</summary>
    public DateTimeOffset? FailingSince => Volatile.Read(ref _failingSinceMs) is > 0 and var ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    /// <summary>Why the last commit failed (exception type and message), while commits are failing.</summary>
    public string? LastFailure => FailingSince is null ? null : _lastFailure;

    /// <summary>
    /// The 503 for a new metered request that the ledger cannot take now, or null: refused while <see cref="Capacity"/> entries
    /// wait, and, for a request that may cost money (<paramref name="worstCaseMicros"/> above 0), while commits are failing.
    /// </summary>
    /// <remarks>Two reads of plain fields: it runs before every metered request.</remarks>
    public QlaudError? AdmissionError(long worstCaseMicros)
    {
        if (Volatile.Read(ref _uncommitted) >= _capacity)
        {
            return new QlaudError(QlaudErrorKind.Unavailable,
                $"Usage cannot be recorded right now: {_capacity} ledger entries are waiting to be written (Qlaud:Limits:LedgerQueueCapacity). Metered requests are refused until the ledger catches up; try again shortly.",
                "ledger_queue_full");
        }

        if (worstCaseMicros > 0 && Volatile.Read(ref _failingSinceMs) != 0)
        {
            return new QlaudError(QlaudErrorKind.Unavailable,
                "Usage cannot be recorded right now: the ledger database is not accepting writes. Metered requests are refused until it recovers, so nothing is spent unrecorded; try again shortly.",
                "ledger_unavailable");
        }

        return null;
    }

    /// <summary>
    /// Admits a new metered request: null at once while fewer than <see cref="MaxUnwritten"/> entries wait and commits succeed;
    /// otherwise waits until a commit brings the backlog below the bound, or answers the 503 of <see cref="AdmissionError"/>
    /// (at once), or <c>ledger_queue_full</c> after <c>Qlaud:Limits:StorageTimeoutSeconds</c> of waiting.
    /// </summary>
    /// <remarks>The path taken while the writer keeps up is two volatile reads, no lock and no allocation. While commits fail,
    /// a request that cannot cost money (<paramref name="worstCaseMicros"/> 0) is admitted up to <see cref="Capacity"/>.</remarks>
    public ValueTask<QlaudError?> AdmitAsync(long worstCaseMicros, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _uncommitted) < _admitBelow && Volatile.Read(ref _failingSinceMs) == 0)
        {
            return default;
        }

        return AdmitSlowAsync(worstCaseMicros, cancellationToken);
    }

    private async ValueTask<QlaudError?> AdmitSlowAsync(long worstCaseMicros, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        while (true)
        {
            // Take the signal before looking at the backlog: a commit after the look completes this very signal.
            var committed = Volatile.Read(ref _committed);
            if (committed is null)
            {
                var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                committed = Interlocked.CompareExchange(ref _committed, created, null) ?? created;
            }

            if (AdmissionError(worstCaseMicros) is { } error)
            {
                return error;
            }

            if (Volatile.Read(ref _uncommitted) < _maxUnwritten || Volatile.Read(ref _failingSinceMs) != 0)
            {
                // Below the bound, or a request that cannot cost money while commits fail (AdmissionError let it through).
                return null;
            }

            var remaining = _flushTimeout - _time.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero)
            {
                return BacklogError();
            }

            try
            {
                await committed.Task.WaitAsync(remaining, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return BacklogError();
            }
        }
    }

    private QlaudError BacklogError() => new(QlaudErrorKind.Unavailable,
        $"Usage cannot be recorded right now: {Queued} ledger entries are waiting to be written and the writer did not get below {_maxUnwritten} (Qlaud:Metering:MaxUnwrittenEntries) within {_flushTimeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s (Qlaud:Limits:StorageTimeoutSeconds). Metered requests wait or are refused until the ledger catches up; try again shortly.",
        "ledger_queue_full");

    /// <summary>Wakes the requests waiting at admission, if any: they look at the backlog again.</summary>
    private void SignalCommitted() => Interlocked.Exchange(ref _committed, null)?.TrySetResult();

    /// <summary>Queues a usage entry. <paramref name="keyPeriodStartMs"/> is the key's cap period the charge counts in (null without
    /// a minted key); <paramref name="leases"/> names the budget leases it was billed against, which the same transaction
    /// shrinks by its cost (a shared database).</summary>
    public void Enqueue(LedgerEntryEntity entry, long? keyPeriodStartMs, Leasing.LeaseFunding leases = Leasing.LeaseFunding.None)
    {
        EnsureStarted();
        if (_queue.Writer.TryWrite(new Pending(entry, keyPeriodStartMs, null, leases)))
        {
            Interlocked.Increment(ref _uncommitted);
            int queued = Interlocked.Increment(ref _queued);
            if (queued == 1)
            {
                _wake.Set();
            }

            if (queued == _batchSize)
            {
                _nudge.Set();
            }
        }
        else
        {
            // Settled after the writer stopped (a request that outlived shutdown): write it directly rather than lose it.
            WriteBatchAsync([new Pending(entry, keyPeriodStartMs, null, leases)], shared: false, yieldCore: false, CancellationToken.None).GetAwaiter().GetResult();
        }
    }

    /// <summary>Completes when everything queued before the call is committed.</summary>
    /// <exception cref="StorageUnavailableException">Commits are failing, or the writer did not catch up within
    /// <c>Qlaud:Limits:StorageTimeoutSeconds</c>.</exception>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        if (FailingSince is { } since)
        {
            throw new StorageUnavailableException(
                $"The ledger has not been written since {since.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture)} ({_lastFailure}); queued entries are kept and written when the database accepts writes again.");
        }

        try
        {
            await FlushCoreAsync(cancellationToken).WaitAsync(_flushTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new StorageUnavailableException(
                $"The ledger writer did not catch up within {_flushTimeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s (Qlaud:Limits:StorageTimeoutSeconds); {Queued} entries are waiting.");
        }
    }

    private Task FlushCoreAsync(CancellationToken cancellationToken)
    {
        EnsureStarted();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Increment(ref _flushesQueued);
        if (!_queue.Writer.TryWrite(new Pending(null, null, done, Leasing.LeaseFunding.None)))
        {
            Interlocked.Decrement(ref _flushesQueued);
            return Task.CompletedTask;
        }

        _wake.Set();
        _nudge.Set();
        return done.Task.WaitAsync(cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        EnsureStarted();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!Interlocked.Exchange(ref _completing, true))
        {
            _queue.Writer.TryComplete();
            _wake.Set();
            _nudge.Set();
        }

        Task? loop;
        lock (_gate)
        {
            loop = _loop;
        }

        if (loop is null)
        {
            return;
        }

        try
        {
            await loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Log.ShutdownTimedOut(_logger, _queue.Reader.Count);
            await _stopping.CancelAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);

        // A writer still running (its shutdown timed out) keeps its token source; it ends when its last retry does. The two
        // events are not disposed: a request settling during shutdown may still set one after the writer exits, and an
        // event nobody took a wait handle from holds nothing to release.
        if (Volatile.Read(ref _loop) is not { IsCompleted: false })
        {
            _stopping.Dispose();
        }
    }

    private void EnsureStarted()
    {
        if (Volatile.Read(ref _loop) is not null)
        {
            return;
        }

        lock (_gate)
        {
            if (_loop is null)
            {
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var thread = new Thread(static state =>
                {
                    var (writer, done) = ((LedgerWriter, TaskCompletionSource))state!;
                    try
                    {
                        writer.Run();
                        done.SetResult();
                    }
                    catch (Exception ex)
                    {
                        done.SetException(ex);
                    }
                })
                {
                    IsBackground = true,
                    Name = "Qlaud ledger writer",
                };
                thread.Start((this, done));
                Volatile.Write(ref _loop, done.Task);
            }
        }
    }

    /// <summary>The writer thread: sleeps until the first entry, lingers, writes the batch; exits when stopped and drained.</summary>
    private void Run()
    {
        var batch = new List<Pending>(_batchSize);
        var flushes = new List<TaskCompletionSource>();
        var reader = _queue.Reader;
        try
        {
            while (true)
            {
                // Reset before looking, so an entry that arrives after the look sets the event again and the wait returns.
                _wake.Reset();
                if (Volatile.Read(ref _queued) == 0 && Volatile.Read(ref _flushesQueued) == 0)
                {
                    if (reader.Completion.IsCompleted)
                    {
                        return;
                    }

                    _wake.Wait();
                    continue;
                }

                // Linger briefly so a steady trickle of requests shares one transaction instead of paying one each. Only a
                // full batch, a flush or shutdown ends it early.
                Linger();
                Drain(reader, batch, flushes);
                CommitWithRetry(batch, yieldCore: Volatile.Read(ref _uncommitted) < _maxUnwritten);
                batch.Clear();
                foreach (var flush in flushes)
                {
                    flush.TrySetResult();
                }

                flushes.Clear();
            }
        }
        finally
        {
            SignalCommitted();
            if (_session is { } session)
            {
                _session = null;
                session.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
    }

    private void Linger()
    {
        _nudge.Reset();
        if (Volatile.Read(ref _queued) >= _batchSize || Volatile.Read(ref _flushesQueued) > 0 || Volatile.Read(ref _completing))
        {
            return;
        }

        _nudge.Wait(LingerTime);
    }

    private void Drain(ChannelReader<Pending> reader, List<Pending> batch, List<TaskCompletionSource> flushes)
    {
        while (batch.Count < _batchSize && reader.TryRead(out var item))
        {
            if (item.Flush is { } flush)
            {
                Interlocked.Decrement(ref _flushesQueued);
                flushes.Add(flush);
            }
            else
            {
                Interlocked.Decrement(ref _queued);
                batch.Add(item);
            }
        }
    }

    private void CommitWithRetry(List<Pending> batch, bool yieldCore)
    {
        if (batch.Count == 0)
        {
            return;
        }

        for (int attempt = 1; ; attempt++)
        {
            try
            {
                // Synchronous on this thread: SQLite's calls complete synchronously, so this does not block on other work.
                WriteBatchAsync(batch, shared: true, yieldCore, CancellationToken.None).GetAwaiter().GetResult();
                Interlocked.Add(ref _uncommitted, -batch.Count);
                SignalCommitted();
                if (Interlocked.Exchange(ref _failingSinceMs, 0) != 0)
                {
                    Log.Recovered(_logger, batch.Count, attempt, Volatile.Read(ref _queued));
                }

                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Whatever failed (database locked, disk full, a bug), the loop must live on: settled usage is never dropped while running.
                // New metered requests are refused (AdmissionError) until a commit succeeds again.
                _lastFailure = $"{ex.GetType().Name}: {ex.Message}";
                Interlocked.CompareExchange(ref _failingSinceMs, Math.Max(1, _time.GetUtcNow().ToUnixTimeMilliseconds()), 0);
                SignalCommitted(); // waiting requests that may cost money are refused now rather than at their timeout
                Log.BatchFailed(_logger, ex, batch.Count, attempt);

                // A disposed container cannot give a database connection again (the host was disposed without being stopped,
                // and StopAsync is what flushes): retrying could only hang the disposal.
                if (_stopping.IsCancellationRequested || ex is ObjectDisposedException)
                {
                    Interlocked.Add(ref _uncommitted, -batch.Count);
                    SignalCommitted();
                    Log.EntriesLost(_logger, batch.Count);
                    return;
                }

                try
                {
                    Task.Delay(TimeSpan.FromMilliseconds(Math.Min(MaxRetryDelay.TotalMilliseconds, 100 * attempt)), _time, _stopping.Token).GetAwaiter().GetResult();
                }
                catch (OperationCanceledException)
                {
                    // Shutdown timed out: one last attempt happens on the next iteration.
                }
            }
        }
    }

    /// <summary>Writes <paramref name="batch"/> with the writer's session (opened on first use, replaced after a failure), or
    /// with a session of its own when <paramref name="shared"/> is false (an entry settled after the writer stopped).</summary>
    private async Task WriteBatchAsync(IReadOnlyList<Pending> batch, bool shared, bool yieldCore, CancellationToken cancellationToken)
    {
        await _storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var entries = new LedgerEntryEntity[batch.Count];
        Dictionary<(Leasing.LeaseSubjectKind, string), long>? leased = null;
        for (int i = 0; i < entries.Length; i++)
        {
            var entry = entries[i] = batch[i].Entry!;
            if (batch[i].Leases != Leasing.LeaseFunding.None && _leaseNode is not null && entry.CostMicros != 0)
            {
                leased ??= [];
                if ((batch[i].Leases & Leasing.LeaseFunding.Key) != 0 && entry.KeyId is { } leasedKey)
                {
                    leased[(Leasing.LeaseSubjectKind.Key, leasedKey)] = leased.GetValueOrDefault((Leasing.LeaseSubjectKind.Key, leasedKey)) + entry.CostMicros;
                }

                if ((batch[i].Leases & Leasing.LeaseFunding.Wallet) != 0)
                {
                    leased[(Leasing.LeaseSubjectKind.Wallet, entry.AccountId)] = leased.GetValueOrDefault((Leasing.LeaseSubjectKind.Wallet, entry.AccountId)) + entry.CostMicros;
                }
            }
        }

        var (wallets, spends) = Totals(batch);
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var session = shared ? _session : null;
        session ??= await LedgerSession.OpenAsync(_db, cancellationToken).ConfigureAwait(false);
        (long Cost, long Amount, long WrittenOff)[]? billed = null;
        try
        {
            await session.WriteAsync(entries, wallets, spends, now, yieldCore, cancellationToken, leased, _leaseNode, leased is null ? null : covered =>
            {
                billed = [.. entries.Select(static e => (e.CostMicros, e.AmountMicros, e.WrittenOffMicros))];
                WriteOffUncovered(batch, covered);
                return Totals(batch);
            }).ConfigureAwait(false);
        }
        catch
        {
            if (billed is not null)
            {
                // The transaction rolled back: the retry starts from the charges as settled.
                for (int i = 0; i < entries.Length; i++)
                {
                    (entries[i].CostMicros, entries[i].AmountMicros, entries[i].WrittenOffMicros) = billed[i];
                }
            }

            // A failed session (connection broken, database locked mid-transaction) is not reused: the retry opens a new one.
            await session.DisposeAsync().ConfigureAwait(false);
            session = null;
            throw;
        }
        finally
        {
            if (shared)
            {
                _session = session;
            }
            else if (session is not null)
            {
                await session.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Each wallet's balance change and each key's spend (per cap period, older periods first) in <paramref name="batch"/>.</summary>
    private static (IReadOnlyDictionary<string, long> Wallets, IReadOnlyList<KeySpend> Keys) Totals(IReadOnlyList<Pending> batch)
    {
        var wallets = new Dictionary<string, long>(StringComparer.Ordinal);
        var keys = new Dictionary<(string KeyId, long PeriodStart), (long Spend, long LastUsed)>();
        for (int i = 0; i < batch.Count; i++)
        {
            var entry = batch[i].Entry!;
            wallets[entry.AccountId] = wallets.GetValueOrDefault(entry.AccountId) + entry.AmountMicros;
            if (entry.KeyId is { } keyId && batch[i].KeyPeriodStartMs is { } periodStart)
            {
                var current = keys.GetValueOrDefault((keyId, periodStart));
                keys[(keyId, periodStart)] = (current.Spend + entry.CostMicros, Math.Max(current.LastUsed, entry.CreatedAtMs));
            }
        }

        var spends = new List<KeySpend>(keys.Count);
        foreach (var ((keyId, periodStart), (spend, lastUsed)) in keys)
        {
            spends.Add(new KeySpend(keyId, periodStart, spend, lastUsed));
        }

        // Older periods first, so a key's newest period is the one it ends in.
        spends.Sort(static (a, b) => a.PeriodStartMs.CompareTo(b.PeriodStartMs));
        return (wallets, spends);
    }

    /// <summary>Writes off what the leases no longer covered (their rows were reclaimed after this instance could not renew them
    /// in time, so the budget may have been spent by another instance): a lease's shortfall comes off the newest entries it
    /// funded, key leases first, then wallet leases from the entries as they are after that. An entry written off keeps its
    /// tokens and its cost in <see cref="LedgerEntryEntity.WrittenOffMicros"/>, as a charge over a cap does.</summary>
    private void WriteOffUncovered(IReadOnlyList<Pending> batch, IReadOnlyDictionary<(Leasing.LeaseSubjectKind Kind, string SubjectId), long> covered)
    {
        long total = 0;
        foreach (var kind in (ReadOnlySpan<Leasing.LeaseSubjectKind>)[Leasing.LeaseSubjectKind.Key, Leasing.LeaseSubjectKind.Wallet])
        {
            foreach (var ((subjectKind, subject), cover) in covered)
            {
                if (subjectKind != kind)
                {
                    continue;
                }

                var funding = kind == Leasing.LeaseSubjectKind.Key ? Leasing.LeaseFunding.Key : Leasing.LeaseFunding.Wallet;
                bool Funded(int i) => (batch[i].Leases & funding) != 0
                    && string.Equals(kind == Leasing.LeaseSubjectKind.Key ? batch[i].Entry!.KeyId : batch[i].Entry!.AccountId, subject, StringComparison.Ordinal);
                long billed = 0;
                for (int i = 0; i < batch.Count; i++)
                {
                    billed += Funded(i) ? batch[i].Entry!.CostMicros : 0;
                }

                long shortfall = billed - cover;
                for (int i = batch.Count - 1; i >= 0 && shortfall > 0; i--)
                {
                    if (Funded(i))
                    {
                        var entry = batch[i].Entry!;
                        long off = Math.Min(shortfall, entry.CostMicros);
                        entry.CostMicros -= off;
                        entry.AmountMicros += off;
                        entry.WrittenOffMicros += off;
                        shortfall -= off;
                        total += off;
                    }
                }
            }
        }

        if (total > 0)
        {
            Log.LapsedLeaseWrittenOff(_logger, total);
        }
    }

    private readonly record struct Pending(LedgerEntryEntity? Entry, long? KeyPeriodStartMs, TaskCompletionSource? Flush, Leasing.LeaseFunding Leases);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Writing {Count} ledger entries failed (attempt {Attempt}); retrying")]
        public static partial void BatchFailed(ILogger logger, Exception exception, int count, int attempt);

        [LoggerMessage(2, LogLevel.Critical, "{Count} settled ledger entries could not be written before shutdown and are lost")]
        public static partial void EntriesLost(ILogger logger, int count);

        [LoggerMessage(3, LogLevel.Error, "Shutdown timed out with {Count} ledger entries still queued")]
        public static partial void ShutdownTimedOut(ILogger logger, int count);

        [LoggerMessage(4, LogLevel.Warning, "The ledger is written again: {Count} entries committed on attempt {Attempt}, {Queued} still queued")]
        public static partial void Recovered(ILogger logger, int count, int attempt, int queued);

        [LoggerMessage(5, LogLevel.Warning, "{Micros} micro-USD of settled charges were written off: their budget lease expired before they were committed (this instance could not renew it in time) and was reclaimed")]
        public static partial void LapsedLeaseWrittenOff(ILogger logger, long micros);
    }
}
