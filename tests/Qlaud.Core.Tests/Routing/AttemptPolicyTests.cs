using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Qlaud.Catalog;
using Qlaud.Configuration;
using Qlaud.Diagnostics;
using Qlaud.Routing;

namespace Qlaud.Core.Tests.Routing;

public sealed class AttemptPolicyTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static RoutingFixture Fixture(Action<RoutingOptions> routing) => new(RoutingFixture.Options(routing));

    /// <summary>A scope whose attempts are scripted per route: each call takes the route's next result.</summary>
    private sealed class ScriptedScope : AttemptScope
    {
        public ConcurrentDictionary<string, ConcurrentQueue<AttemptResult>> Script { get; } = new();

        public ConcurrentDictionary<string, int> Calls { get; } = new();

        public TaskCompletionSource FirstCall { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Add(string route, params AttemptResult[] results) => Script[route] = new ConcurrentQueue<AttemptResult>(results);

        public static ValueTask<AttemptResult> Attempt(ScriptedScope scope, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            scope.Calls.AddOrUpdate(scope.Route.Name, 1, static (_, n) => n + 1);
            scope.FirstCall.TrySetResult();
            return new ValueTask<AttemptResult>(scope.Script.TryGetValue(scope.Route.Name, out var queue) && queue.TryDequeue(out var result)
                ? result
                : AttemptResult.Success());
        }

        public int CallsTo(string route) => Calls.TryGetValue(route, out int n) ? n : 0;
    }

    private static AttemptResult Status(int status, TimeSpan? retryAfter = null) => AttemptResult.Retry(
        new QlaudError(status == 429 ? QlaudErrorKind.RateLimited : QlaudErrorKind.UpstreamError, $"answered {status}."),
        status.ToString(System.Globalization.CultureInfo.InvariantCulture), retryAfter, healthFailure: status >= 500);

    private static CatalogRoute[] Routes(RoutingFixture f) => [f.Route("a/m-a"), f.Route("b/m-b")];

    private static Task<AttemptSummary> Run(RoutingFixture f, ScriptedScope scope, CancellationToken cancellationToken = default)
        => f.Policy.RunAsync(scope, Routes(f), ScriptedScope.Attempt, cancellationToken).AsTask();

    [Fact]
    public async Task RunAsync_RetryAfter_WaitsOnTheClockThenRetriesTheSameRoute()
    {
        var f = Fixture(static r => { r.MaxRetries = 2; r.MaxRetryDelaySeconds = 10; });
        var scope = new ScriptedScope();
        scope.Add("a/m-a", Status(429, TimeSpan.FromSeconds(3)));

        var run = Run(f, scope);
        await scope.FirstCall.Task.WaitAsync(Wait);
        f.Clock.Advance(TimeSpan.FromSeconds(2.9));
        Assert.False(run.IsCompleted);
        Assert.Equal(1, scope.CallsTo("a/m-a"));

        f.Clock.Advance(TimeSpan.FromSeconds(0.2));
        var summary = await run.WaitAsync(Wait);

        Assert.True(summary.Completed);
        Assert.Equal("a/m-a", summary.Route!.Name);
        Assert.Equal(2, summary.Attempts);
        Assert.Equal(0, scope.CallsTo("b/m-b"));
    }

    [Fact]
    public async Task RunAsync_RetryAfterLongerThanMaximum_MovesOnWithoutWaiting()
    {
        var f = Fixture(static r => { r.MaxRetries = 2; r.MaxRetryDelaySeconds = 5; });
        var scope = new ScriptedScope();
        scope.Add("a/m-a", Status(429, TimeSpan.FromSeconds(30)));

        var summary = await Run(f, scope).WaitAsync(Wait); // the fake clock never moves: any wait would hang here

        Assert.Equal("b/m-b", summary.Route!.Name);
        Assert.Equal(1, scope.CallsTo("a/m-a"));
        Assert.Equal(2, summary.Attempts);
    }

    [Fact]
    public async Task RunAsync_ServerErrors_RetriesThenNextRoute()
    {
        var f = Fixture(static r => { r.MaxRetries = 1; r.RetryBaseDelaySeconds = 0; });
        var scope = new ScriptedScope();
        scope.Add("a/m-a", Status(500), Status(503));

        var summary = await Run(f, scope).WaitAsync(Wait);

        Assert.Equal("b/m-b", summary.Route!.Name);
        Assert.Equal(2, scope.CallsTo("a/m-a"));
        Assert.Equal(3, summary.Attempts);
    }

    [Fact]
    public async Task RunAsync_BackoffWithoutRetryAfter_WaitsOnTheClock()
    {
        var f = Fixture(static r => { r.MaxRetries = 1; r.RetryBaseDelaySeconds = 1; r.MaxRetryDelaySeconds = 4; });
        var scope = new ScriptedScope();
        scope.Add("a/m-a", Status(500));

        var run = Run(f, scope);
        await scope.FirstCall.Task.WaitAsync(Wait);
        Assert.False(run.IsCompleted);
        f.Clock.Advance(TimeSpan.FromSeconds(4)); // the longest a jittered first back-off may be
        var summary = await run.WaitAsync(Wait);

        Assert.Equal("a/m-a", summary.Route!.Name);
        Assert.Equal(2, scope.CallsTo("a/m-a"));
    }

    [Fact]
    public async Task RunAsync_Unsuitable_MovesOnAtOnceWithoutRetry()
    {
        var f = Fixture(static r => r.MaxRetries = 3);
        var scope = new ScriptedScope();
        scope.Add("a/m-a", AttemptResult.Unsuitable(new QlaudError(QlaudErrorKind.InvalidRequest, "context too long")));

        var summary = await Run(f, scope).WaitAsync(Wait);

        Assert.Equal("b/m-b", summary.Route!.Name);
        Assert.Equal(1, scope.CallsTo("a/m-a"));
    }

    [Fact]
    public async Task RunAsync_AnsweredError_StopsAtOnce()
    {
        var f = Fixture(static r => r.MaxRetries = 3);
        var scope = new ScriptedScope();
        scope.Add("a/m-a", AttemptResult.Answered(new QlaudError(QlaudErrorKind.InvalidRequest, "bad"), "400"));

        var summary = await Run(f, scope).WaitAsync(Wait);

        Assert.True(summary.Completed);
        Assert.Equal("a/m-a", summary.Route!.Name);
        Assert.Equal(0, scope.CallsTo("b/m-b"));
    }

    [Fact]
    public async Task RunAsync_EveryRouteFails_ErrorOfTheLastFailureNamingEachRoute()
    {
        var f = Fixture(static r => r.MaxRetries = 0);
        var scope = new ScriptedScope();
        scope.Add("a/m-a", Status(500));
        scope.Add("b/m-b", Status(429, TimeSpan.FromSeconds(20)));

        var summary = await Run(f, scope).WaitAsync(Wait);

        Assert.False(summary.Completed);
        Assert.Equal(QlaudErrorKind.RateLimited, summary.Error!.Kind);
        Assert.Equal("No route could serve this request. a/m-a: answered 500. b/m-b: answered 429.", summary.Error.Message);
        Assert.Equal(TimeSpan.FromSeconds(20), summary.RetryAfter);
        Assert.Equal(2, summary.Attempts);
    }

    [Fact]
    public async Task RunAsync_RepeatedServerErrors_CircuitOpensSkipsRouteThenProbesAfterBreak()
    {
        var f = Fixture(static r => { r.MaxRetries = 0; r.BreakerMinimumThroughput = 2; r.BreakerFailureRatio = 0.5; r.BreakerBreakSeconds = 30; });

        for (int i = 0; i < 2; i++)
        {
            var failing = new ScriptedScope();
            failing.Add("a/m-a", Status(500));
            Assert.Equal("b/m-b", (await Run(f, failing).WaitAsync(Wait)).Route!.Name);
        }

        Assert.Equal(Polly.CircuitBreaker.CircuitState.Open, f.Health.Get(f.Route("a/m-a")).Circuit);
        var whileOpen = new ScriptedScope();
        var skipped = await Run(f, whileOpen).WaitAsync(Wait);
        Assert.Equal("b/m-b", skipped.Route!.Name);
        Assert.Equal(0, whileOpen.CallsTo("a/m-a"));
        Assert.Equal(1, skipped.Attempts);

        f.Clock.Advance(TimeSpan.FromSeconds(31));
        var probe = new ScriptedScope();
        var probed = await Run(f, probe).WaitAsync(Wait);
        Assert.Equal("a/m-a", probed.Route!.Name);
        Assert.Equal(Polly.CircuitBreaker.CircuitState.Closed, f.Health.Get(f.Route("a/m-a")).Circuit);
    }

    [Fact]
    public async Task RunAsync_RepeatedRateLimits_CircuitStaysClosed()
    {
        var f = Fixture(static r => { r.MaxRetries = 0; r.BreakerMinimumThroughput = 2; });
        for (int i = 0; i < 3; i++)
        {
            var scope = new ScriptedScope();
            scope.Add("a/m-a", Status(429));
            await Run(f, scope).WaitAsync(Wait);
            Assert.Equal(1, scope.CallsTo("a/m-a"));
        }

        Assert.Equal(Polly.CircuitBreaker.CircuitState.Closed, f.Health.Get(f.Route("a/m-a")).Circuit);
    }

    [Fact]
    public async Task RunAsync_CallerCancelsDuringBackoff_NoFurtherAttempt()
    {
        var f = Fixture(static r => { r.MaxRetries = 2; r.MaxRetryDelaySeconds = 10; });
        var scope = new ScriptedScope();
        scope.Add("a/m-a", Status(503, TimeSpan.FromSeconds(5)));
        using var cts = new CancellationTokenSource();

        var run = Run(f, scope, cts.Token);
        await scope.FirstCall.Task.WaitAsync(Wait);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(Wait));
        f.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(1, scope.CallsTo("a/m-a"));
        Assert.Equal(0, scope.CallsTo("b/m-b"));
    }

    [Fact]
    public async Task RunAsync_WithListener_OneGenAISpanPerAttemptAndDurationMetric()
    {
        var f = Fixture(static r => { r.MaxRetries = 0; });
        using var root = new ActivitySource("Qlaud.Tests.AttemptPolicy");
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = static s => s.Name is QlaudDiagnostics.Name or "Qlaud.Tests.AttemptPolicy",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var durations = new ConcurrentQueue<(double Seconds, Dictionary<string, object?> Tags)>();
        using var meter = new MeterListener
        {
            InstrumentPublished = static (instrument, l) =>
            {
                if (instrument.Meter.Name == QlaudDiagnostics.Name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meter.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            var map = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                map[tag.Key] = tag.Value;
            }

            if (instrument.Name == "gen_ai.client.operation.duration" && map.GetValueOrDefault("gen_ai.request.model") is "m-a" or "m-b")
            {
                durations.Enqueue((value, map));
            }
        });
        meter.Start();

        var scope = new ScriptedScope();
        scope.Add("a/m-a", Status(502));
        string parentId;
        using (var parent = root.StartActivity("test")!)
        {
            parentId = parent.Id!;
            await Run(f, scope).WaitAsync(Wait);
        }

        var attempts = spans.Where(s => s.ParentId == parentId).ToList();
        Assert.Equal(["chat m-a", "chat m-b"], attempts.Select(static s => s.DisplayName));
        Assert.Equal(ActivityKind.Client, attempts[0].Kind);
        Assert.Equal("a", attempts[0].GetTagItem("gen_ai.system"));
        Assert.Equal("m-a", attempts[0].GetTagItem("gen_ai.request.model"));
        Assert.Equal("127.0.0.1", attempts[0].GetTagItem("server.address"));
        Assert.Equal("502", attempts[0].GetTagItem("error.type"));
        Assert.Equal(ActivityStatusCode.Error, attempts[0].Status);
        Assert.Null(attempts[1].GetTagItem("error.type"));
        Assert.Equal("m-b", attempts[1].GetTagItem("gen_ai.response.model"));
        Assert.Equal(2, durations.Count);
        Assert.Contains(durations, static d => d.Tags.GetValueOrDefault("error.type") is "502");
    }

    [Fact]
    public void Compose_OnlyUnsuitableRoutes_400NoSuitableRoute()
    {
        var f = Fixture(static _ => { });
        var error = AttemptPolicy.Compose(
        [
            (f.Route("a/m-a"), AttemptResult.Unsuitable(new QlaudError(QlaudErrorKind.InvalidRequest, "context too long")).Error!),
            (f.Route("b/m-b"), AttemptResult.Unsuitable(new QlaudError(QlaudErrorKind.InvalidRequest, "no tools")).Error!),
        ]);
        Assert.Equal(400, error.StatusCode);
        Assert.Equal(RouteSelection.UnsuitableCode, error.Code);
        Assert.Equal("No route can serve this request. a/m-a: context too long. b/m-b: no tools.", error.Message);
    }
}
