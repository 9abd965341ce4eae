using System.Diagnostics;
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
/// <para>Each batch is one transaction: the entries are inserted (one prepared statement, see <see cref="LedgerInsertCommand"/>),
/// each wallet's balance moves by the sum of its entries and
/// each key's spend counters by the sum of its own, so the ledger, the wallets and the keys always agree in the database.
/// Batches form by themselves under load (whatever queued while the previous batch committed), up to
/// <c>Qlaud:Metering:LedgerBatchSize</c> entries.</para>
/// <para>On a clean shutdown the writer stops after the web server has drained and commits everything still queued. A
/// failed commit is retried (never dropped) until shutdown. A process crash loses only entries that were settled but not
/// yet committed, normally the last few milliseconds; with WAL a committed batch survives a process crash.</para>
/// </remarks>
internal sealed partial class LedgerWriter : IHostedService, IAsyncDisposable
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IDbContextFactory<QlaudDbContext> _db;
    private readonly StorageInitializer _storage;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _batchSize;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    /// <summary>How long the writer waits for more entries before committing a batch that is not full. A real-time wait on
    /// purpose (not the injected clock): it only groups writes, and a flush or shutdown ends it at once.</summary>
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(20);

    public LedgerWriter(IDbContextFactory<QlaudDbContext> db, StorageInitializer storage, TimeProvider time, IOptions<QlaudOptions> options, ILogger<LedgerWriter> logger)
    {
        _db = db;
        _storage = storage;
        _time = time;
        _logger = logger;
        _batchSize = options.Value.Metering.LedgerBatchSize;
    }

    /// <summary>Queues a usage entry. <paramref name="keyPeriodStartMs"/> is the key's cap period the charge counts in (null without a minted key).</summary>
    public void Enqueue(LedgerEntryEntity entry, long? keyPeriodStartMs)
    {
        EnsureStarted();
        if (!_queue.Writer.TryWrite(new Pending(entry, keyPeriodStartMs, null)))
        {
            // Settled after the writer stopped (a request that outlived shutdown): write it directly rather than lose it.
            WriteBatchAsync([new Pending(entry, keyPeriodStartMs, null)], CancellationToken.None).GetAwaiter().GetResult();
        }
    }

    /// <summary>Completes when everything queued before the call is committed.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _queue.Writer.TryWrite(new Pending(null, null, done)) ? done.Task.WaitAsync(cancellationToken) : Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        EnsureStarted();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
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
        _stopping.Dispose();
    }

    private void EnsureStarted()
    {
        if (Volatile.Read(ref _loop) is not null)
        {
            return;
        }

        lock (_gate)
        {
            _loop ??= Task.Run(RunAsync);
        }
    }

    private async Task RunAsync()
    {
        var batch = new List<Pending>(_batchSize);
        var flushes = new List<TaskCompletionSource>();
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            Drain(reader, batch, flushes);

            // Linger briefly so a steady trickle of requests shares one transaction instead of paying one each; a flush
            // request or a full batch ends the wait at once, and completion (shutdown) ends it too.
            long lingerStart = Stopwatch.GetTimestamp();
            while (batch.Count > 0 && batch.Count < _batchSize && flushes.Count == 0 && !reader.Completion.IsCompleted)
            {
                var remaining = Linger - Stopwatch.GetElapsedTime(lingerStart);
                if (remaining <= TimeSpan.Zero)
                {
                    break;
                }

                // The wait is cancelled, not abandoned, when the linger ends: the single reader never leaves a waiter behind.
                using var linger = new CancellationTokenSource(remaining);
                try
                {
                    if (!await reader.WaitToReadAsync(linger.Token).ConfigureAwait(false))
                    {
                        break;
                    }
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                Drain(reader, batch, flushes);
            }

            await CommitWithRetryAsync(batch).ConfigureAwait(false);
            batch.Clear();
            foreach (var flush in flushes)
            {
                flush.TrySetResult();
            }

            flushes.Clear();
        }
    }

    private void Drain(ChannelReader<Pending> reader, List<Pending> batch, List<TaskCompletionSource> flushes)
    {
        while (batch.Count < _batchSize && reader.TryRead(out var item))
        {
            if (item.Flush is { } flush)
            {
                flushes.Add(flush);
            }
            else
            {
                batch.Add(item);
            }
        }
    }

    private async Task CommitWithRetryAsync(List<Pending> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await WriteBatchAsync(batch, CancellationToken.None).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Whatever failed (database locked, disk full, a bug), the loop must live on: settled usage is never dropped while running.
                Log.BatchFailed(_logger, ex, batch.Count, attempt);

                // A disposed container cannot give a database connection again (the host was disposed without being stopped,
                // and StopAsync is what flushes): retrying could only hang the disposal.
                if (_stopping.IsCancellationRequested || ex is ObjectDisposedException)
                {
                    Log.EntriesLost(_logger, batch.Count);
                    return;
                }

                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * attempt)), _time, _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Shutdown timed out: one last attempt happens on the next iteration.
                }
            }
        }
    }

    private async Task WriteBatchAsync(IReadOnlyList<Pending> batch, CancellationToken cancellationToken)
    {
        await _storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var db = await _db.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                var wallets = new Dictionary<string, long>(StringComparer.Ordinal);
                var keys = new Dictionary<(string KeyId, long PeriodStart), (long Spend, long LastUsed)>();
                var insert = await LedgerInsertCommand.CreateAsync(db, cancellationToken).ConfigureAwait(false);
                await using (insert.ConfigureAwait(false))
                {
                    foreach (var pending in batch)
                    {
                        await insert.InsertAsync(pending.Entry!, cancellationToken).ConfigureAwait(false);
                    }
                }

                foreach (var pending in batch)
                {
                    var entry = pending.Entry!;
                    wallets[entry.AccountId] = wallets.GetValueOrDefault(entry.AccountId) + entry.AmountMicros;
                    if (entry.KeyId is { } keyId && pending.KeyPeriodStartMs is { } periodStart)
                    {
                        var current = keys.GetValueOrDefault((keyId, periodStart));
                        keys[(keyId, periodStart)] = (current.Spend + entry.CostMicros, Math.Max(current.LastUsed, entry.CreatedAtMs));
                    }
                }

                foreach (var (accountId, delta) in wallets)
                {
                    await db.Wallets.Where(w => w.AccountId == accountId).ExecuteUpdateAsync(s => s
                        .SetProperty(w => w.BalanceMicros, w => w.BalanceMicros + delta)
                        .SetProperty(w => w.UpdatedAtMs, now), cancellationToken).ConfigureAwait(false);
                }

                foreach (var ((keyId, periodStart), (spend, lastUsed)) in keys.OrderBy(static k => k.Key.PeriodStart))
                {
                    // Relative updates: correct with other writers on the same rows (another node, an API patch).
                    await db.ApiKeys.Where(k => k.Id == keyId).ExecuteUpdateAsync(s => s
                        .SetProperty(k => k.SpendMicros, k => k.SpendMicros + spend)
                        .SetProperty(k => k.PeriodSpendMicros, k => k.PeriodStartMs > periodStart ? k.PeriodSpendMicros
                            : k.PeriodStartMs == periodStart ? k.PeriodSpendMicros + spend : spend)
                        .SetProperty(k => k.PeriodStartMs, k => k.PeriodStartMs > periodStart ? k.PeriodStartMs : periodStart)
                        .SetProperty(k => k.LastUsedAtMs, k => k.LastUsedAtMs == null || k.LastUsedAtMs < lastUsed ? lastUsed : k.LastUsedAtMs), cancellationToken).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private readonly record struct Pending(LedgerEntryEntity? Entry, long? KeyPeriodStartMs, TaskCompletionSource? Flush);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Writing {Count} ledger entries failed (attempt {Attempt}); retrying")]
        public static partial void BatchFailed(ILogger logger, Exception exception, int count, int attempt);

        [LoggerMessage(2, LogLevel.Critical, "{Count} settled ledger entries could not be written before shutdown and are lost")]
        public static partial void EntriesLost(ILogger logger, int count);

        [LoggerMessage(3, LogLevel.Error, "Shutdown timed out with {Count} ledger entries still queued")]
        public static partial void ShutdownTimedOut(ILogger logger, int count);
    }
}
