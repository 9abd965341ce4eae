using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Storage;

namespace Qlaud.Batches;

/// <summary>
/// The hosted background worker that runs batches from the database: each pending request through
/// <see cref="BatchRequestRunner"/>, its result stored before the next state change, so a restart resumes where it stopped.
/// </summary>
/// <remarks>
/// <para>At most <c>Qlaud:Batches:MaxConcurrency</c> requests are in flight across batches and
/// <c>Qlaud:Batches:MaxConcurrencyPerBatch</c> per batch. A cancelled batch starts no new request and lets running ones finish;
/// a batch past its completion window likewise, and its unsent requests expire.</para>
/// <para>Stopping the host stops dispatching and lets requests in flight finish and be recorded (within the host's shutdown
/// timeout), so a graceful restart sends no request twice. A request in flight when the process dies has no result and is
/// sent again after the restart.</para>
/// <para>When the database is shared (PostgreSQL), workers on several instances run the same batches: each claims the requests
/// it sends (<see cref="IBatchClaims"/>, <c>FOR UPDATE SKIP LOCKED</c>) for <c>Qlaud:Batches:ClaimSeconds</c> and renews its
/// claims while it lives, and a batch's native submission, polling and finalization are claimed whole by one instance. A
/// request claimed by an instance that died before recording its result is claimed by another once the claim expires and sent
/// again, as after a single instance's restart.</para>
/// </remarks>
internal sealed partial class BatchWorker : IHostedService, IDisposable
{
    private const int PageSize = 64;

    /// <summary>How often a running batch's status is read again from the database (a cancel or delete made on another node).</summary>
    private const long StatusRecheckMs = 250;

    /// <summary>Batches changed on this node (cancelled) since their runner last read their status.</summary>
    private readonly ConcurrentDictionary<string, bool> _changed = new(StringComparer.Ordinal);

    private readonly BatchStore _store;
    private readonly BatchFiles _files;
    private readonly BatchRequestRunner _runner;
    private readonly BatchResultWriter _results;
    private readonly NativeBatchRunner _native;
    private readonly Routing.Router _router;
    private readonly TimeProvider _time;

    /// <summary>The pause before a request whose claim could not be confirmed (the database did not answer) is tried again.</summary>
    private static readonly TimeSpan ClaimRetryDelay = TimeSpan.FromSeconds(1);
    private readonly ILogger _logger;
    private readonly BatchesOptions _options;
    private readonly SemaphoreSlim _global;
    private readonly ConcurrentDictionary<string, Task> _running = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopDispatch = new();
    private readonly CancellationTokenSource _abort = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly IBatchClaims? _claims;
    private readonly string _nodeId;
    private readonly long _claimMs;
    private Task? _loop;
    private Task? _renew;

    public BatchWorker(BatchStore store, BatchFiles files, BatchRequestRunner runner, BatchResultWriter results, NativeBatchRunner native, Routing.Router router, TimeProvider time,
        IOptions<QlaudOptions> options, ILogger<BatchWorker> logger, IStorageProvider storage, Metering.Leasing.LeaseNode node)
    {
        _claims = storage.CreateBatchClaims();
        _nodeId = node.Id;
        _claimMs = (long)(options.Value.Batches.ClaimSeconds * 1000);
        _native = native;
        _router = router;
        _results = results;
        _store = store;
        _files = files;
        _runner = runner;
        _time = time;
        _logger = logger;
        _options = options.Value.Batches;
        _global = new SemaphoreSlim(_options.MaxConcurrency, _options.MaxConcurrency);
    }

    /// <summary>Tells the worker a batch was cancelled, so its runner reads its status now.</summary>
    public void Changed(string batchId)
    {
        _changed[batchId] = true;
        Wake();
    }

    /// <summary>Tells the worker a batch was created or changed, so it looks now rather than at its next poll.</summary>
    public void Wake() => Interlocked.Exchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Raised after a request's result was stored (the batch id), for followers of the results.</summary>
    public event Action<string>? ResultStored;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.WorkerEnabled)
        {
            if (_claims is null)
            {
                // Before the worker resumes and before the server takes requests (hosted services start first): the worst case
                // of requests a provider is still running for this process's batches is held again, so a capped key cannot
                // spend past its cap while they run. With shared storage, the instance that takes a batch over holds it.
                try
                {
                    await _native.RestoreHoldsAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.RestoreFailed(_logger, ex);
                }
            }

            _loop = Task.Run(LoopAsync, CancellationToken.None);
            if (_claims is not null)
            {
                _renew = Task.Run(RenewLoopAsync, CancellationToken.None);
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopDispatch.CancelAsync().ConfigureAwait(false);
        Wake();

        // Requests in flight finish and are recorded; only when the host's shutdown timeout runs out are they cut off (and
        // sent again after the restart).
        using var hardStop = cancellationToken.Register(static state => ((CancellationTokenSource)state!).Cancel(), _abort);
        try
        {
            if (_loop is { } loop)
            {
                await loop.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            await Task.WhenAll(_running.Values).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.StopTimedOut(_logger, _running.Count);
        }

        if (_claims is not null && _loop is not null)
        {
            // Whatever this instance claimed and did not finish (unsent requests, a batch it was polling) is left to the others now.
            try
            {
                if (_renew is { } renew)
                {
                    await renew.ConfigureAwait(false);
                }

                using var release = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _claims.ReleaseAllAsync(_nodeId, release.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.ClaimsFailed(_logger, ex);
            }
        }
    }

    /// <summary>Extends this instance's claims every quarter of their lifetime while the worker runs.</summary>
    private async Task RenewLoopAsync()
    {
        var stopping = _stopDispatch.Token;
        var every = TimeSpan.FromMilliseconds(Math.Max(50, _claimMs / 4));
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, _time, stopping).ConfigureAwait(false);
                await _claims!.RenewAsync(_nodeId, NowMs() + _claimMs, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.ClaimsFailed(_logger, ex);
            }
        }
    }

    public void Dispose()
    {
        _stopDispatch.Dispose();
        _abort.Dispose();
        _global.Dispose();
    }

    private async Task LoopAsync()
    {
        var stopping = _stopDispatch.Token;
        var interval = TimeSpan.FromSeconds(_options.PollIntervalSeconds);
        while (!stopping.IsCancellationRequested)
        {
            var wake = Volatile.Read(ref _wake).Task;
            foreach (var (id, run) in _running)
            {
                if (run.IsCompleted)
                {
                    _running.TryRemove(new KeyValuePair<string, Task>(id, run));
                }
            }

            try
            {
                foreach (string id in await _store.ActiveIdsAsync(stopping).ConfigureAwait(false))
                {
                    if (!_running.TryGetValue(id, out var run) || run.IsCompleted)
                    {
                        _running[id] = RunGuardedAsync(id);
                    }
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.LoopFailed(_logger, ex);
            }

            using var delay = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            await Task.WhenAny(wake, Task.Delay(interval, _time, delay.Token)).ConfigureAwait(false);
            await delay.CancelAsync().ConfigureAwait(false);
        }
    }

    private async Task RunGuardedAsync(string id)
    {
        await Task.Yield();
        try
        {
            await RunBatchAsync(id).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopDispatch.IsCancellationRequested)
        {
            // Stopping: the batch resumes at the next start.
        }
        catch (Exception ex)
        {
            Log.BatchFailed(_logger, id, ex);
        }
    }

    private async Task RunBatchAsync(string id)
    {
        var stopping = _stopDispatch.Token;
        var batch = await _store.FindAsync(id, stopping).ConfigureAwait(false);
        if (batch is null)
        {
            return;
        }

        var caller = NativeBatchRunner.CallerOf(batch);
        if (batch.Status == nameof(QlaudBatchStatus.Validating))
        {
            long now = NowMs();
            await _store.TransitionAsync(id, [QlaudBatchStatus.Validating], QlaudBatchStatus.InProgress, b => b.InProgressAtMs = now, stopping).ConfigureAwait(false);
            Log.BatchStarted(_logger, id, batch.RequestCount, batch.Endpoint);
        }

        bool claimedWhole = false;
        if (_claims is not null && (batch.NativeBatchId is not null || batch.NativeSubmitToken is not null
            || _options.PreferNative && batch.Status is nameof(QlaudBatchStatus.Validating) or nameof(QlaudBatchStatus.InProgress)))
        {
            // Submitting to a provider's batch API, and polling it, is one instance's work: the one holding the batch's claim.
            if (!await _claims.ClaimBatchAsync(_nodeId, id, NowMs(), NowMs() + _claimMs, stopping).ConfigureAwait(false))
            {
                return;
            }

            claimedWhole = true;
            batch = await _store.FindAsync(id, stopping).ConfigureAwait(false);
            if (batch is null)
            {
                return;
            }
        }

        NativeSubmission? submission = null;
        if (batch.NativeBatchId is null && batch.NativeSubmitToken is not null)
        {
            // Marked as being submitted, with no provider batch id recorded: the provider may have it. Looked for before anything
            // is submitted again, whatever PreferNative says now.
            submission = await _native.ResumeAsync(batch, caller, stopping).ConfigureAwait(false);
        }
        else if (batch.NativeBatchId is null && _options.PreferNative && batch.Status is nameof(QlaudBatchStatus.Validating) or nameof(QlaudBatchStatus.InProgress))
        {
            // Every request still unsent and all on one provider with a batch discount: submitted to that provider's batch API.
            var pending = await _store.PendingAsync(id, -1, int.MaxValue, stopping).ConfigureAwait(false);
            if (pending.Count == batch.RequestCount && pending.Count > 0 && NativeBatchRunner.Plan(batch, pending, _router) is { } routes)
            {
                submission = await _native.SubmitAsync(batch, caller, pending, routes, stopping).ConfigureAwait(false);
            }
        }

        if (submission == NativeSubmission.Unresolved)
        {
            return; // resumed at the batch's next run; nothing runs through Qlaud meanwhile
        }

        if (submission == NativeSubmission.Abandoned)
        {
            ResultStored?.Invoke(id);
            await FinalizeAsync(batch, QlaudBatchStatus.Completed, stopping).ConfigureAwait(false);
            return;
        }

        if (batch.NativeBatchId is not null)
        {
            QlaudBatchStatus? nativeEnd;
            try
            {
                nativeEnd = await _native.FollowAsync(batch, caller, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return; // polling resumes after the restart
            }

            if (nativeEnd is { } ended)
            {
                ResultStored?.Invoke(id);
                await FinalizeAsync(batch, ended, stopping).ConfigureAwait(false);
            }

            return;
        }

        if (claimedWhole)
        {
            // Not a native batch: its requests are claimed one by one, by every instance.
            await _claims!.ReleaseBatchAsync(_nodeId, id, stopping).ConfigureAwait(false);
        }

        var inflight = new List<Task>();
        QlaudBatchStatus? end;
        try
        {
            end = await DispatchAsync(batch, caller, inflight, stopping).ConfigureAwait(false);
        }
        finally
        {
            // On every exit, stopping included: requests in flight finish and their results are recorded before the batch
            // is let go, so none is left without a result (and sent again) after a graceful restart.
            await Task.WhenAll(inflight).ConfigureAwait(false);
        }

        if (end is not { } reason || stopping.IsCancellationRequested)
        {
            return;
        }

        long endMs = NowMs();
        if (reason != QlaudBatchStatus.Completed)
        {
            var final = reason == QlaudBatchStatus.Expired ? BatchRequestState.Expired : BatchRequestState.Canceled;
            if (_claims is null)
            {
                await _store.EndPendingAsync(id, final, endMs, stopping).ConfigureAwait(false);
            }
            else
            {
                // Requests another live instance is sending keep their claim; that instance records them and then ends the batch.
                await _claims.EndPendingAsync(_nodeId, id, final, endMs, stopping).ConfigureAwait(false);
            }

            ResultStored?.Invoke(id);
            if (_claims is not null && (await _store.CountsAsync(id, stopping).ConfigureAwait(false)).Processing > 0)
            {
                return;
            }
        }
        else if ((await _store.CountsAsync(id, stopping).ConfigureAwait(false)).Processing > 0)
        {
            // A request could not be recorded (a storage fault): the batch stays in progress and is picked up again.
            return;
        }

        await FinalizeAsync(batch, reason, stopping).ConfigureAwait(false);
    }

    /// <summary>Starts the batch's pending requests within the concurrency limits until none is left, the batch is cancelled or
    /// expires, or the worker stops.</summary>
    /// <returns>How the batch ends (completed, cancelled, expired); null when the worker lets it go without ending it.</returns>
    private async Task<QlaudBatchStatus?> DispatchAsync(BatchEntity batch, QlaudCaller caller, List<Task> inflight, CancellationToken stopping)
    {
        string id = batch.Id;
        var queue = new Queue<BatchRequestEntity>();
        var retry = new Queue<BatchRequestEntity>();
        var running = new Dictionary<Task<bool>, BatchRequestEntity>();
        var pace = new BatchPace(_options);
        int cursor = -1, finished = 0, nextReport = Math.Max(1, batch.RequestCount / 10);
        bool exhausted = false;
        string? status = null;
        long statusReadAt = 0;
        while (true)
        {
            if (stopping.IsCancellationRequested)
            {
                return null;
            }

            // The status (a cancel, a delete) is read again at most every StatusRecheckMs, or at once when this node was told of a change.
            long now = NowMs();
            if (status is null || now - statusReadAt >= StatusRecheckMs || _changed.TryRemove(id, out _))
            {
                status = await _store.StatusAsync(id, stopping).ConfigureAwait(false);
                statusReadAt = now;
            }

            if (status == nameof(QlaudBatchStatus.Cancelling))
            {
                return QlaudBatchStatus.Cancelled;
            }

            if (status is null || status != nameof(QlaudBatchStatus.InProgress) && status != nameof(QlaudBatchStatus.Finalizing))
            {
                // Deleted, or ended by another node.
                return null;
            }

            if (NowMs() >= batch.ExpiresAtMs)
            {
                return QlaudBatchStatus.Expired;
            }

            if (queue.Count == 0 && !exhausted && status == nameof(QlaudBatchStatus.InProgress))
            {
                var page = _claims is null
                    ? await _store.PendingAsync(id, cursor, PageSize, stopping).ConfigureAwait(false)
                    : await _claims.ClaimPendingAsync(_nodeId, id, cursor, _options.MaxConcurrencyPerBatch, NowMs(), NowMs() + _claimMs, stopping).ConfigureAwait(false);
                foreach (var request in page)
                {
                    queue.Enqueue(request);
                }

                exhausted = queue.Count == 0;
            }

            long pausedFor = pace.PausedUntilMs - NowMs();
            if ((queue.Count > 0 || retry.Count > 0) && inflight.Count < pace.Limit && pausedFor <= 0)
            {
                await _global.WaitAsync(stopping).ConfigureAwait(false);
                var request = retry.Count > 0 ? retry.Dequeue() : queue.Dequeue();
                cursor = Math.Max(cursor, request.Index);
                var run = RunRequestAsync(batch, caller, request, pace);
                running[run] = request;
                inflight.Add(run);
                continue;
            }

            if (inflight.Count == 0 && retry.Count == 0 && queue.Count == 0)
            {
                return QlaudBatchStatus.Completed;
            }

            if (inflight.Count == 0)
            {
                // Paused after a 429: nothing in flight, so wait out the pause.
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, pausedFor)), _time, stopping).ConfigureAwait(false);
                continue;
            }

            var done = await Task.WhenAny(inflight).ConfigureAwait(false);
            inflight.Remove(done);
            if (running.Remove((Task<bool>)done, out var ran) && await ((Task<bool>)done).ConfigureAwait(false))
            {
                retry.Enqueue(ran);
                continue;
            }

            if (++finished >= nextReport)
            {
                nextReport += Math.Max(1, batch.RequestCount / 10);
                var counts = await _store.CountsAsync(id, stopping).ConfigureAwait(false);
                Log.BatchProgress(_logger, id, counts.Total - counts.Processing, counts.Total, counts.Succeeded, counts.Errored);
            }
        }
    }

    private async Task<bool> RunRequestAsync(BatchEntity batch, QlaudCaller caller, BatchRequestEntity request, BatchPace pace)
    {
        await Task.Yield();
        try
        {
            if (_claims is not null && await ConfirmClaimAsync(batch, request).ConfigureAwait(false) is not true and var held)
            {
                // Lost: another instance may be sending it. Unknown (the database did not answer): tried again after a pause,
                // since this instance's renewals keep the request claimed and no other instance would take it.
                if (held is null)
                {
                    try
                    {
                        await Task.Delay(ClaimRetryDelay, _time, _abort.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return false; // a hard stop: the claim is released or lapses, and the request is sent after the restart
                    }
                }

                return held is null;
            }

            string requestId = Qlaud.Diagnostics.RequestIds.New();
            (BatchRequestState State, int Status, byte[] Body) result;
            try
            {
                result = await _runner.RunAsync(batch, caller, request, requestId, _abort.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_abort.IsCancellationRequested)
            {
                // Cut off by a hard stop: no result, so the request is sent again after the restart.
                return false;
            }
            catch (Exception ex)
            {
                Log.RequestFailed(_logger, batch.Id, request.CustomId, ex);
                result = BatchRequestRunner.Error(BatchRequestRunner.SurfaceOf(batch.Endpoint),
                    new QlaudError(QlaudErrorKind.Internal, "The gateway failed while handling this request.", "internal_error"));
            }

            if (result.Status == 429 && pace.RateLimited(request.Id, NowMs()))
            {
                // Nothing was charged; the request waits out the batch's pause and is sent again.
                return true;
            }

            pace.Succeeded(result.Status);
            await _results.SaveAsync(request.Id, result.State, result.Status, result.Body, requestId, NowMs()).ConfigureAwait(false);
            ResultStored?.Invoke(batch.Id);
            return false;
        }
        finally
        {
            _global.Release();
        }
    }

    /// <summary>Whether this instance still holds its claim on <paramref name="request"/> now that the request is about to be sent:
    /// a claim can lapse while the request waited for a slot if the instance stalled for longer than renewals allow, and then
    /// another instance may be sending it.</summary>
    /// <returns>True while held, false when lost, null when the database could not tell.</returns>
    private async Task<bool?> ConfirmClaimAsync(BatchEntity batch, BatchRequestEntity request)
    {
        try
        {
            long now = NowMs();
            if (await _claims!.ConfirmAsync(_nodeId, request.Id, now, now + _claimMs, _abort.Token).ConfigureAwait(false))
            {
                return true;
            }
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception ex)
        {
            Log.ClaimsFailed(_logger, ex);
            return null;
        }

        Log.ClaimLost(_logger, request.CustomId, batch.Id);
        return false;
    }

    private async Task FinalizeAsync(BatchEntity batch, QlaudBatchStatus end, CancellationToken cancellationToken)
    {
        string id = batch.Id;
        long now = NowMs();
        var from = new[] { QlaudBatchStatus.InProgress, QlaudBatchStatus.Cancelling, QlaudBatchStatus.Finalizing };
        if (_claims is not null)
        {
            // One instance writes a batch's result files and ends it: the one that claims it; the others leave it alone.
            if (!await _claims.ClaimBatchAsync(_nodeId, id, now, now + _claimMs, cancellationToken).ConfigureAwait(false)
                || !await _store.TransitionAsync(id, from, QlaudBatchStatus.Finalizing, b => b.FinalizingAtMs ??= now, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
        else
        {
            await _store.TransitionAsync(id, from, QlaudBatchStatus.Finalizing, b => b.FinalizingAtMs ??= now, cancellationToken).ConfigureAwait(false);
        }

        string? outputFileId = null, errorFileId = null;
        if (batch.Surface == "openai")
        {
            (outputFileId, errorFileId) = await WriteResultFilesAsync(batch, cancellationToken).ConfigureAwait(false);
        }

        long endMs = NowMs();
        bool ended = await _store.TransitionAsync(id, [QlaudBatchStatus.Finalizing], end, b =>
        {
            b.OutputFileId = outputFileId;
            b.ErrorFileId = errorFileId;
            switch (end)
            {
                case QlaudBatchStatus.Cancelled:
                    b.CancelledAtMs = endMs;
                    break;
                case QlaudBatchStatus.Expired:
                    b.ExpiredAtMs = endMs;
                    break;
                default:
                    b.CompletedAtMs = endMs;
                    break;
            }
        }, cancellationToken).ConfigureAwait(false);
        if (ended)
        {
            var counts = await _store.CountsAsync(id, cancellationToken).ConfigureAwait(false);
            Log.BatchEnded(_logger, id, end.ToString(), counts.Succeeded, counts.Errored, counts.Canceled, counts.Expired);
            ResultStored?.Invoke(id);
        }
    }

    /// <summary>Writes the OpenAI output file (successes) and error file (everything else), each only when it has lines.</summary>
    private async Task<(string? Output, string? Error)> WriteResultFilesAsync(BatchEntity batch, CancellationToken cancellationToken)
    {
        var output = new ArrayBufferWriter<byte>();
        var errors = new ArrayBufferWriter<byte>();
        int cursor = -1;
        while (true)
        {
            var page = await _store.FinishedAsync(batch.Id, cursor, 500, cancellationToken).ConfigureAwait(false);
            if (page.Count == 0)
            {
                break;
            }

            foreach (var request in page)
            {
                BatchResultLines.WriteOpenAI(request.State == nameof(BatchRequestState.Succeeded) ? output : errors, request);
                cursor = request.Index;
            }
        }

        string? outputId = output.WrittenCount > 0
            ? (await _files.SaveGeneratedAsync(batch, batch.Id + "_output.jsonl", output.WrittenMemory, cancellationToken).ConfigureAwait(false)).Id
            : null;
        string? errorId = errors.WrittenCount > 0
            ? (await _files.SaveGeneratedAsync(batch, batch.Id + "_error.jsonl", errors.WrittenMemory, cancellationToken).ConfigureAwait(false)).Id
            : null;
        return (outputId, errorId);
    }

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>How fast one batch sends: its concurrency (halved on a 429, grown back by one per success) and a pause after a
    /// 429 that doubles while 429s continue.</summary>
    private sealed class BatchPace(BatchesOptions options)
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<long, int> _retries = [];
        private int _streak;

        public int Limit { get; private set; } = options.MaxConcurrencyPerBatch;

        public long PausedUntilMs { get; private set; }

        /// <summary>A 429 for request <paramref name="requestId"/>: pause and slow down; true when it is to be sent again.</summary>
        public bool RateLimited(long requestId, long nowMs)
        {
            lock (_gate)
            {
                _retries.TryGetValue(requestId, out int retries);
                _streak = Math.Min(_streak + 1, 7);
                Limit = Math.Max(1, Limit / 2);
                PausedUntilMs = Math.Max(PausedUntilMs, nowMs + (long)(options.RateLimitBackoffSeconds * 1000 * (1 << (_streak - 1))));
                if (retries >= options.MaxRateLimitRetries)
                {
                    return false;
                }

                _retries[requestId] = retries + 1;
                return true;
            }
        }

        public void Succeeded(int status)
        {
            if (status == 429)
            {
                return;
            }

            lock (_gate)
            {
                _streak = 0;
                Limit = Math.Min(options.MaxConcurrencyPerBatch, Limit + 1);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Batch {BatchId} started: {Requests} requests to {Endpoint}")]
        public static partial void BatchStarted(ILogger logger, string batchId, int requests, string endpoint);

        [LoggerMessage(2, LogLevel.Information, "Batch {BatchId}: {Finished}/{Total} requests finished ({Succeeded} succeeded, {Errored} errored)")]
        public static partial void BatchProgress(ILogger logger, string batchId, int finished, int total, int succeeded, int errored);

        [LoggerMessage(3, LogLevel.Information, "Batch {BatchId} {Status}: {Succeeded} succeeded, {Errored} errored, {Canceled} canceled, {Expired} expired")]
        public static partial void BatchEnded(ILogger logger, string batchId, string status, int succeeded, int errored, int canceled, int expired);

        [LoggerMessage(4, LogLevel.Error, "Batch {BatchId} failed in the worker; it is picked up again at the next poll")]
        public static partial void BatchFailed(ILogger logger, string batchId, Exception exception);

        [LoggerMessage(5, LogLevel.Error, "Request {CustomId} of batch {BatchId} failed inside the gateway")]
        public static partial void RequestFailed(ILogger logger, string batchId, string customId, Exception exception);

        [LoggerMessage(6, LogLevel.Error, "The batch worker could not read the batches to run")]
        public static partial void LoopFailed(ILogger logger, Exception exception);

        [LoggerMessage(7, LogLevel.Warning, "The batch worker stopped with {Batches} batches still running; their unfinished requests are sent again after the restart")]
        public static partial void StopTimedOut(ILogger logger, int batches);

        [LoggerMessage(8, LogLevel.Warning, "The batch worker could not renew or release its claims")]
        public static partial void ClaimsFailed(ILogger logger, Exception exception);

        [LoggerMessage(10, LogLevel.Warning, "Request {CustomId} of batch {BatchId} is not sent: this instance's claim on it lapsed (it stalled past Qlaud:Batches:ClaimSeconds) and another instance may be sending it")]
        public static partial void ClaimLost(ILogger logger, string customId, string batchId);

        [LoggerMessage(9, LogLevel.Error, "The batch worker could not hold again the worst case of native batches in flight; each is held when its polling resumes")]
        public static partial void RestoreFailed(ILogger logger, Exception exception);
    }
}
