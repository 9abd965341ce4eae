using System.Collections.Frozen;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Qlaud.Catalog;
using Qlaud.Configuration;

namespace Qlaud.Routing;

/// <summary>Per-route resilience state, built once at start-up: a Polly pipeline (retry, then circuit breaker) and live statistics.</summary>
/// <remarks>
/// These pipelines stay on Polly.Core rather than on an <see cref="HttpClient"/> resilience handler (as Stripe's client uses):
/// a handler in the <see cref="HttpClient"/> pipeline sees one HTTP exchange, while the outcome that must trip a route's
/// breaker or decide a retry is the route's (an upstream's error envelope judged by the dialect, a stream that broke before its
/// first event, a fallback to another route), which is known only here, above the HTTP call.
/// </remarks>
internal sealed partial class RouteHealthRegistry
{
    private readonly FrozenDictionary<CatalogRoute, RouteHealth> _routes;

    public RouteHealthRegistry(ModelCatalog catalog, RoutingOptions routing, TimeProvider time, ILogger<RouteHealthRegistry> logger)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(routing);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        Time = time;
        Routing = routing;
        var routes = new Dictionary<CatalogRoute, RouteHealth>(ReferenceEqualityComparer.Instance);
        foreach (var model in catalog.Models)
        {
            foreach (var route in model.Routes)
            {
                routes[route] = Build(route, routing, time, logger);
            }
        }

        _routes = routes.ToFrozenDictionary(ReferenceEqualityComparer.Instance);
    }

    public TimeProvider Time { get; }

    public RoutingOptions Routing { get; }

    /// <summary>The health of <paramref name="route"/> (a route of the catalog the registry was built from).</summary>
    public RouteHealth Get(CatalogRoute route) => _routes[route];

    private static RouteHealth Build(CatalogRoute route, RoutingOptions routing, TimeProvider time, ILogger logger)
    {
        var maxDelay = TimeSpan.FromSeconds(routing.MaxRetryDelaySeconds);
        var stateProvider = new CircuitBreakerStateProvider();
        var builder = new ResiliencePipelineBuilder<AttemptResult> { TimeProvider = time, Name = route.Name };
        if (route.Provider.MaxRetries > 0)
        {
            // Runs once per route at start-up: the logging closures below capture the route once, not per request.
            builder.AddRetry(new RetryStrategyOptions<AttemptResult>
            {
                MaxRetryAttempts = route.Provider.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromSeconds(routing.RetryBaseDelaySeconds),
                MaxDelay = maxDelay,
                // A retry-after longer than the longest wait is marked MoveOn by the attempt policy: the next route, no waiting.
                ShouldHandle = static args => new ValueTask<bool>(args.Outcome.Exception is null
                    && args.Outcome.Result is { Status: AttemptStatus.Retryable, MoveOn: false }),
                DelayGenerator = static args => new ValueTask<TimeSpan?>(args.Outcome.Exception is null ? args.Outcome.Result.RetryAfter : null),
                OnRetry = args =>
                {
                    Log.Retrying(logger, route.Name, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds);
                    return default;
                },
            });
        }

        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<AttemptResult>
        {
            FailureRatio = routing.BreakerFailureRatio,
            MinimumThroughput = routing.BreakerMinimumThroughput,
            SamplingDuration = TimeSpan.FromSeconds(routing.BreakerSamplingSeconds),
            BreakDuration = TimeSpan.FromSeconds(routing.BreakerBreakSeconds),
            StateProvider = stateProvider,
            ShouldHandle = static args => new ValueTask<bool>(args.Outcome.Exception switch
            {
                OperationCanceledException => false,
                not null => true,
                null => args.Outcome.Result.HealthFailure,
            }),
            OnOpened = args =>
            {
                Log.CircuitOpened(logger, route.Name, args.BreakDuration.TotalSeconds);
                return default;
            },
            OnHalfOpened = _ =>
            {
                Log.CircuitHalfOpened(logger, route.Name);
                return default;
            },
            OnClosed = _ =>
            {
                Log.CircuitClosed(logger, route.Name);
                return default;
            },
        });

        return new RouteHealth(route, builder.Build(), stateProvider, new RouteStatistics(time, TimeSpan.FromSeconds(routing.StatisticsWindowSeconds)));
    }

    private static partial class Log
    {
        [LoggerMessage(10, LogLevel.Information, "Retrying route {Route} (attempt {Attempt}) in {DelayMs} ms")]
        public static partial void Retrying(ILogger logger, string route, int attempt, double delayMs);

        [LoggerMessage(11, LogLevel.Warning, "Circuit of route {Route} opened: the route is skipped for {BreakSeconds} s")]
        public static partial void CircuitOpened(ILogger logger, string route, double breakSeconds);

        [LoggerMessage(12, LogLevel.Information, "Circuit of route {Route} half-open: the next request probes it")]
        public static partial void CircuitHalfOpened(ILogger logger, string route);

        [LoggerMessage(13, LogLevel.Information, "Circuit of route {Route} closed: the route is healthy again")]
        public static partial void CircuitClosed(ILogger logger, string route);
    }
}

/// <summary>One route's resilience pipeline, circuit state and live statistics.</summary>
internal sealed class RouteHealth(CatalogRoute route, ResiliencePipeline<AttemptResult> pipeline, CircuitBreakerStateProvider circuit, RouteStatistics statistics)
{
    public CatalogRoute Route { get; } = route;

    /// <summary>Retry (with back-off honouring <c>retry-after</c>) around a circuit breaker.</summary>
    public ResiliencePipeline<AttemptResult> Pipeline { get; } = pipeline;

    public RouteStatistics Statistics { get; } = statistics;

    /// <summary>The GenAI operation of the route's attempts: <c>embeddings</c> or <c>image_generation</c> for those models' routes, else <c>chat</c>.</summary>
    public string OperationName { get; } = (route.Capabilities & ModelCapabilities.Embeddings) != 0 ? "embeddings"
        : (route.Capabilities & ModelCapabilities.Images) != 0 ? "image_generation" : "chat";

    /// <summary>The span name of an attempt, <c>{operation} {upstream model}</c>, built once.</summary>
    public string SpanName { get; } = ((route.Capabilities & ModelCapabilities.Embeddings) != 0 ? "embeddings "
        : (route.Capabilities & ModelCapabilities.Images) != 0 ? "image_generation " : "chat ") + route.UpstreamModel;

    /// <summary>The circuit state: closed, open, half-open (an open circuit past its break reads open until the probe).</summary>
    public CircuitState Circuit => circuit.CircuitState;
}
