namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Limits</c> section: bounds on request bodies, stream events, the ledger queue, storage waits and
/// failed authentications.</summary>
/// <remarks>Each bound turns a resource that could grow without limit (memory, a waiting caller) into a clear error in
/// the surface's own shape: 413 for a body, an error event for a stream event, 503 for a ledger or database that cannot keep up, 429 for an address
/// that keeps presenting wrong keys.</remarks>
public sealed class LimitsOptions
{
    /// <summary>The default <see cref="MaxRequestBytes"/>: 32 MiB, what the Anthropic Messages API accepts.</summary>
    public const int DefaultMaxRequestBytes = 32 * 1024 * 1024;

    /// <summary>The largest request body accepted on <c>/v1</c>, in bytes (default 32 MiB, 1 KiB to 1 GiB).</summary>
    /// <remarks>A larger body is answered 413 in the surface's error shape: at once when its <c>Content-Length</c> says so,
    /// otherwise as soon as this many bytes were read. The server's own limit (Kestrel's <c>MaxRequestBodySize</c>) is raised or
    /// lowered to this value for the <c>/v1</c> requests. Base64 images make chat bodies large.</remarks>
    public int MaxRequestBytes { get; set; } = DefaultMaxRequestBytes;

    /// <summary>The largest single server-sent event relayed from an upstream stream, in bytes (default 4 MiB, 64 KiB to 256 MiB).</summary>
    /// <remarks>The relay buffers one event at a time; an upstream event that grows past this ends the client's stream with an
    /// error event in its dialect (<c>event_too_large</c>), and the request is charged for what was relayed.</remarks>
    public int MaxEventBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The most settled usage entries waiting for the ledger writer before metered requests are refused (default 100000, 100 to 10000000).</summary>
    /// <remarks>At capacity new metered requests get 503 (<c>ledger_queue_full</c>); entries of requests already admitted are
    /// still queued, so the queue holds at most this many plus the requests in flight when it filled. Each entry is a few hundred bytes.</remarks>
    public int LedgerQueueCapacity { get; set; } = 100_000;

    /// <summary>How long an account endpoint waits for the ledger writer to catch up and for the database to answer, in
    /// seconds (default 5, 0.1 to 300); past it the endpoint answers 503 instead of hanging. The readiness check uses the same
    /// bound, and so does a metered request waiting at admission while <c>Qlaud:Metering:MaxUnwrittenEntries</c> entries are
    /// uncommitted (then 503 <c>ledger_queue_full</c>).</summary>
    public double StorageTimeoutSeconds { get; set; } = 5;

    /// <summary>
    /// How many failed authentications (a wrong, revoked, disabled or expired key) one client address may make per minute
    /// before the gateway answers 429 with <c>retry-after</c> (default 60; 0 = no limit).
    /// </summary>
    /// <remarks>While an address is over the limit, only keys this node already holds in memory authenticate from it; anything
    /// else is answered 429 without a database lookup, until the minute is over. The address is the connection's remote
    /// address; behind a reverse proxy, apply ASP.NET Core's forwarded-headers middleware first so it is the client's.</remarks>
    public int FailedAuthPerMinute { get; set; } = 60;
}
