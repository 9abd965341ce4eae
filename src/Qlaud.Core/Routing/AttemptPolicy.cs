using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Qlaud.Catalog;
using Qlaud.Diagnostics;

namespace Qlaud.Routing;

/// <summary>
/// The one attempt policy of Qlaud, shared by the wire forwarder and the in-process <c>IChatClient</c>: tries the candidate
/// routes in order, each through its Polly pipeline (retries with jittered exponential back-off honouring <c>retry-after</c>,
/// then its circuit breaker), and measures, logs and traces every attempt.
/// </summary>
/// <remarks>
/// An attempt decides its own outcome (<see cref="AttemptResult"/>): only a <see cref="AttemptStatus.Retryable"/> failure,
/// which by contract happens before anything reached the caller, is retried or moves on; an
/// <see cref="AttemptStatus.Unsuitable"/> route moves on at once; a route whose circuit is open is skipped. Cancellation
/// (the caller went away) stops the run: no further attempt is made.
/// </remarks>
internal sealed partial class AttemptPolicy
{
    private readonly RouteHealthRegistry _health;
    private readonly ILogger _logger;
    private readonly TimeSpan _maxRetryDelay;

    public AttemptPolicy(RouteHealthRegistry health, ILogger<AttemptPolicy> logger)
    {
        _health = health;
        _logger = logger;
        _maxRetryDelay = TimeSpan.FromSeconds(health.Routing.MaxRetryDelaySeconds);
    }

    public RouteHealthRegistry Health => _health;

    /// <summary>Runs <paramref name="attempt"/> over <paramref name="candidates"/> until one completes.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // once per request: reuse the state machine box
    public async ValueTask<AttemptSummary> RunAsync<TScope>(TScope scope, IReadOnlyList<CatalogRoute> candidates,
        Func<TScope, CancellationToken, ValueTask<AttemptResult>> attempt, CancellationToken cancellationToken)
        where TScope : AttemptScope
    {
        scope.Time = _health.Time;
        List<(CatalogRoute Route, QlaudError Error)>? failures = null;
        TimeSpan? retryAfter = null;
        for (int i = 0; i < candidates.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var route = candidates[i];
            var health = _health.Get(route);
            scope.HasMoreCandidates = i < candidates.Count - 1;
            var context = ResilienceContextPool.Shared.Get(cancellationToken);
            Outcome<AttemptResult> outcome;
            try
            {
                outcome = await health.Pipeline.ExecuteOutcomeAsync(
                    static (ctx, s) => s.Policy.InvokeAsync(s.Scope, s.Health, s.Attempt, ctx.CancellationToken),
                    context, (Policy: this, Scope: scope, Health: health, Attempt: attempt)).ConfigureAwait(false);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }

            if (outcome.Exception is BrokenCircuitException broken)
            {
                Log.CircuitSkipped(_logger, route.Name);
                (failures ??= []).Add((route, new QlaudError(QlaudErrorKind.Unavailable,
                    $"The route {route.Name} is cooling down after repeated failures{(broken.RetryAfter is { } wait ? $" (about {Math.Ceiling(wait.TotalSeconds)} s left)" : "")}.", "route_cooling_down")));
                continue;
            }

            outcome.ThrowIfException(); // cancellation (the caller went away) or a fault: no further attempt
            var result = outcome.Result;
            if (result.Status == AttemptStatus.Completed)
            {
                return new AttemptSummary(true, route, scope.Attempts, null, null);
            }

            (failures ??= []).Add((route, result.Error!));
            retryAfter = result.RetryAfter ?? retryAfter;
        }

        return new AttemptSummary(false, null, scope.Attempts, Compose(failures), retryAfter);
    }

    /// <summary>Finishes an attempt that returned <see cref="AttemptResult.Open"/> once its answer was delivered.</summary>
    public void CompleteOpenAttempt(AttemptScope scope, AttemptResult result) => Finish(scope, _health.Get(scope.Route), result);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome<AttemptResult>> InvokeAsync<TScope>(TScope scope, RouteHealth health,
        Func<TScope, CancellationToken, ValueTask<AttemptResult>> attempt, CancellationToken cancellationToken)
        where TScope : AttemptScope
    {
        var route = health.Route;
        scope.BeginAttempt(route);
        scope.Activity = StartActivity(health, scope);
        AttemptResult result;
        try
        {
            result = await attempt(scope, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Cancellation and faults leave as outcomes (Polly's contract for ExecuteOutcomeAsync) and are rethrown by RunAsync.
            if (scope.Activity is { } activity)
            {
                activity.SetTag(QlaudDiagnostics.ErrorType, ex is OperationCanceledException ? "cancelled" : ex.GetType().FullName);
                activity.SetStatus(ActivityStatusCode.Error, ex.Message);
                activity.Dispose();
                scope.Activity = null;
            }

            if (ex is OperationCanceledException)
            {
                Log.AttemptCancelled(_logger, route.Name, scope.Attempts);
            }

            return Outcome.FromException<AttemptResult>(ex);
        }

        if (result.Status != AttemptStatus.Completed)
        {
            scope.AttemptFailed();
        }

        if (result is { Status: AttemptStatus.Retryable, RetryAfter: { } retryAfter } && retryAfter > _maxRetryDelay)
        {
            result = result.MovingOn();
        }

        if (!result.Open)
        {
            Finish(scope, health, result);
        }

        return Outcome.FromResult(result);
    }

    private static Activity? StartActivity(RouteHealth health, AttemptScope scope)
    {
        if (!QlaudDiagnostics.ActivitySource.HasListeners())
        {
            return null;
        }

        var activity = QlaudDiagnostics.ActivitySource.StartActivity(health.SpanName, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            var route = health.Route;
            activity.SetTag(QlaudDiagnostics.OperationName, health.OperationName);
            activity.SetTag(QlaudDiagnostics.System, route.Provider.Name);
            activity.SetTag(QlaudDiagnostics.RequestModel, route.UpstreamModel);
            activity.SetTag(QlaudDiagnostics.ServerAddress, route.Provider.BaseUrl.Host);
            activity.SetTag(QlaudDiagnostics.ServerPort, route.Provider.BaseUrl.Port);
            activity.SetTag(QlaudDiagnostics.Route, route.Name);
            activity.SetTag(QlaudDiagnostics.Model, route.ModelId);
            activity.SetTag(QlaudDiagnostics.Attempt, scope.Attempts);
        }

        return activity;
    }

    /// <summary>Records statistics, metrics, the log line and the span of a finished attempt.</summary>
    private void Finish(AttemptScope scope, RouteHealth health, AttemptResult result)
    {
        var route = health.Route;
        var time = scope.Time;
        long end = time.GetTimestamp();
        var elapsed = time.GetElapsedTime(scope.StartTimestamp, end);
        TimeSpan? ttft = scope.FirstByteTimestamp != 0 ? time.GetElapsedTime(scope.StartTimestamp, scope.FirstByteTimestamp) : null;
        var usage = scope.Usage;

        switch (result.Status)
        {
            case AttemptStatus.Completed when result.HealthFailure:
                health.Statistics.RecordFailure(ttft);
                Log.AttemptBroken(_logger, route.Name, scope.Attempts, result.Error!.Message);
                break;
            case AttemptStatus.Completed when result.Error is null:
                // Throughput: tokens over the generation time (first byte to end for a stream, the whole exchange otherwise).
                var generation = scope.Streamed && scope.FirstByteTimestamp != 0 && end > scope.FirstByteTimestamp && usage is { Output: > 1 }
                    ? time.GetElapsedTime(scope.FirstByteTimestamp, end)
                    : elapsed;
                health.Statistics.RecordSuccess(ttft, usage?.Output ?? 0, generation);
                Log.AttemptSucceeded(_logger, route.Name, scope.Attempts, elapsed.TotalMilliseconds);
                break;
            case AttemptStatus.Completed:
                Log.AttemptAnswered(_logger, route.Name, scope.Attempts, result.Error!.Message);
                break;
            case AttemptStatus.Retryable:
                health.Statistics.RecordFailure(ttft);
                Log.AttemptFailed(_logger, route.Name, scope.Attempts, result.ErrorType ?? "error", result.Error!.Message);
                break;
            default:
                Log.RouteUnsuitable(_logger, route.Name, result.Error!.Message);
                break;
        }

        RecordMetrics(health, scope, result, elapsed, usage);
        if (scope.Activity is { } activity)
        {
            activity.SetTag(QlaudDiagnostics.ResponseModel, scope.ResponseModel ?? route.UpstreamModel);
            if (usage is { } u)
            {
                activity.SetTag(QlaudDiagnostics.InputTokens, u.Input);
                activity.SetTag(QlaudDiagnostics.OutputTokens, u.Output);
            }

            if (result.ErrorType is { } errorType)
            {
                activity.SetTag(QlaudDiagnostics.ErrorType, errorType);
                activity.SetStatus(ActivityStatusCode.Error, result.Error?.Message);
            }

            activity.Dispose();
            scope.Activity = null;
        }
    }

    private static void RecordMetrics(RouteHealth health, AttemptScope scope, AttemptResult result, TimeSpan elapsed, Metering.TokenUsage? usage)
    {
        if (QlaudDiagnostics.OperationDuration.Enabled)
        {
            var tags = Tags(health, scope);
            if (result.ErrorType is { } errorType)
            {
                tags.Add(QlaudDiagnostics.ErrorType, errorType);
            }

            QlaudDiagnostics.OperationDuration.Record(elapsed.TotalSeconds, tags);
        }

        if (usage is { } u && QlaudDiagnostics.TokenUsage.Enabled)
        {
            var tags = Tags(health, scope);
            tags.Add(QlaudDiagnostics.TokenType, "input");
            QlaudDiagnostics.TokenUsage.Record(u.Input, tags);
            if (health.OperationName == "embeddings")
            {
                return; // embeddings generate no tokens
            }

            tags = Tags(health, scope);
            tags.Add(QlaudDiagnostics.TokenType, "output");
            QlaudDiagnostics.TokenUsage.Record(u.Output, tags);
        }
    }

    private static TagList Tags(RouteHealth health, AttemptScope scope) => new()
    {
        { QlaudDiagnostics.OperationName, health.OperationName },
        { QlaudDiagnostics.System, health.Route.Provider.Name },
        { QlaudDiagnostics.RequestModel, health.Route.UpstreamModel },
        { QlaudDiagnostics.ResponseModel, scope.ResponseModel ?? health.Route.UpstreamModel },
        { QlaudDiagnostics.ServerAddress, health.Route.Provider.BaseUrl.Host },
    };

    /// <summary>The caller's error when no route answered: the last failure's kind, every route's reason in the message.</summary>
    internal static QlaudError Compose(List<(CatalogRoute Route, QlaudError Error)>? failures)
    {
        if (failures is null || failures.Count == 0)
        {
            return new QlaudError(QlaudErrorKind.Unavailable, "No route is available for this request.", "no_route");
        }

        // The kind comes from the last failure that was not a route's unsuitability: it says how the caller should react
        // (429 back off, 504 timeout, 502/503 upstream trouble). Only when every route was unsuitable is it the caller's 400.
        QlaudError? decisive = null;
        for (int i = failures.Count - 1; i >= 0 && decisive is null; i--)
        {
            if (failures[i].Error.Code != RouteSelection.UnsuitableCode)
            {
                decisive = failures[i].Error;
            }
        }

        if (failures.Count == 1)
        {
            return failures[0].Error;
        }

        var message = new StringBuilder(decisive is null ? "No route can serve this request." : "No route could serve this request.");
        foreach (var (route, error) in failures)
        {
            message.Append(' ').Append(route.Name).Append(": ").Append(error.Message.TrimEnd('.')).Append('.');
        }

        return decisive is null
            ? new QlaudError(QlaudErrorKind.InvalidRequest, message.ToString(), RouteSelection.UnsuitableCode)
            : decisive with { Message = message.ToString() };
    }

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Debug, "Route {Route} answered attempt {Attempt} in {ElapsedMs} ms")]
        public static partial void AttemptSucceeded(ILogger logger, string route, int attempt, double elapsedMs);

        [LoggerMessage(21, LogLevel.Information, "Route {Route} answered attempt {Attempt} with an error the caller receives: {Reason}")]
        public static partial void AttemptAnswered(ILogger logger, string route, int attempt, string reason);

        [LoggerMessage(22, LogLevel.Warning, "Route {Route} failed attempt {Attempt} ({ErrorType}): {Reason}")]
        public static partial void AttemptFailed(ILogger logger, string route, int attempt, string errorType, string reason);

        [LoggerMessage(23, LogLevel.Warning, "Route {Route} failed after its answer started (attempt {Attempt}): {Reason}")]
        public static partial void AttemptBroken(ILogger logger, string route, int attempt, string reason);

        [LoggerMessage(24, LogLevel.Information, "Route {Route} cannot serve the request: {Reason}")]
        public static partial void RouteUnsuitable(ILogger logger, string route, string reason);

        [LoggerMessage(25, LogLevel.Information, "Route {Route} skipped: its circuit is open")]
        public static partial void CircuitSkipped(ILogger logger, string route);

        [LoggerMessage(26, LogLevel.Debug, "Attempt {Attempt} on route {Route} cancelled by the caller")]
        public static partial void AttemptCancelled(ILogger logger, string route, int attempt);
    }
}
