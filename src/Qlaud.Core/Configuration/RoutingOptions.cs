namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Routing</c> section: retries, timeouts, circuit breaking and live statistics for every route.</summary>
/// <remarks>
/// Timeouts and <see cref="MaxRetries"/> are defaults: each provider can override them under <c>Qlaud:Providers:&lt;name&gt;</c>.
/// Retries happen only before the first byte of an answer reached the caller; after that a failure ends the answer with an error.
/// </remarks>
public sealed class RoutingOptions
{
    /// <summary>Retries on the same route after a retryable failure, before moving to the next route (0 to 10, default 1).</summary>
    public int MaxRetries { get; set; } = 1;

    /// <summary>The first back-off delay in seconds; later ones grow exponentially with jitter (default 0.25).</summary>
    public double RetryBaseDelaySeconds { get; set; } = 0.25;

    /// <summary>The longest wait before a retry, in seconds (default 5). An upstream <c>retry-after</c> longer than this
    /// moves on to the next route instead of waiting.</summary>
    public double MaxRetryDelaySeconds { get; set; } = 5;

    /// <summary>Time allowed to open a TCP connection to a provider, in seconds (default 10).</summary>
    public double ConnectTimeoutSeconds { get; set; } = 10;

    /// <summary>Time allowed from sending a request to the first byte of the answer (response headers and, for a stream, the first event), in seconds (default 120).</summary>
    public double FirstByteTimeoutSeconds { get; set; } = 120;

    /// <summary>The longest silence allowed between two reads of an answer body, in seconds (default 60).</summary>
    public double IdleTimeoutSeconds { get; set; } = 60;

    /// <summary>The share of failed attempts (5xx, timeouts, connection errors, broken streams) within
    /// <see cref="BreakerSamplingSeconds"/> that opens a route's circuit (greater than 0, at most 1; default 0.5).</summary>
    public double BreakerFailureRatio { get; set; } = 0.5;

    /// <summary>The attempts a route must have had within the sampling window before its circuit can open (at least 2, default 5).</summary>
    public int BreakerMinimumThroughput { get; set; } = 5;

    /// <summary>The window over which failures are counted for the circuit breaker, in seconds (at least 0.5, default 30).</summary>
    public double BreakerSamplingSeconds { get; set; } = 30;

    /// <summary>How long an open circuit skips its route before one trial request probes it again, in seconds (at least 0.5, default 30).</summary>
    public double BreakerBreakSeconds { get; set; } = 30;

    /// <summary>The sliding window of the live route statistics (time to first token, tokens/s, error rate), in seconds (default 300).</summary>
    public double StatisticsWindowSeconds { get; set; } = 300;

    /// <summary>Output tokens assumed when a request sets no <c>max_tokens</c>, for <c>:floor</c> and price ordering (default 500).</summary>
    public int ExpectedOutputTokens { get; set; } = 500;

    /// <summary>The secret under which Qlaud signs the <c>thinking</c> blocks it translates from another dialect's reasoning
    /// (HMAC-SHA256 of the thinking text), so it can tell its own blocks when an Anthropic client sends them back. At least 32
    /// characters; unset (the default), a random secret is generated once and kept in the gateway's database, so signatures
    /// survive restarts and are shared by every instance on that database. Set it when instances do not share a database.</summary>
    public string? ThinkingSignatureSecret { get; set; }

    /// <summary>Whether OpenAI-dialect requests on an Anthropic route get prompt-cache breakpoints (<c>cache_control</c>) placed
    /// automatically on a prefix long enough to be cached (default true).</summary>
    public bool AutoPromptCache { get; set; } = true;
}
