namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Batches</c> section: how the background worker runs batch jobs and how large their input may be.</summary>
/// <remarks>Batches yield to interactive traffic: at most <see cref="MaxConcurrency"/> batch requests are in flight across
/// every batch, and at most <see cref="MaxConcurrencyPerBatch"/> of one batch.</remarks>
public sealed class BatchesOptions
{
    /// <summary>Whether the background worker runs batches on this node (default <see langword="true"/>). Batches can still be
    /// created and read when it is off; another node sharing the database runs them.</summary>
    public bool WorkerEnabled { get; set; } = true;

    /// <summary>Whether a batch whose every request resolves to one provider route with a batch discount
    /// (<c>BatchDiscountPercent</c> in the catalog: OpenAI and Anthropic) is submitted to that provider's own batch API and
    /// charged the discounted price (default <see langword="true"/>). Otherwise, and when this is off, Qlaud runs the
    /// requests itself at the normal price.</summary>
    public bool PreferNative { get; set; } = true;

    /// <summary>The most batch requests in flight at once across all batches (default 8, 1 to 1000).</summary>
    public int MaxConcurrency { get; set; } = 8;

    /// <summary>The most requests of one batch in flight at once (default 4, 1 to 1000).</summary>
    public int MaxConcurrencyPerBatch { get; set; } = 4;

    /// <summary>The first pause of a batch after one of its requests was answered 429 (by the provider, after the routing
    /// retries, or by the key's rate limit), in seconds (default 1, 0.01 to 600); it doubles with each further 429 in a row
    /// (at most 64 times the first), and the batch's concurrency is halved, then grows back by one per success.</summary>
    public double RateLimitBackoffSeconds { get; set; } = 1;

    /// <summary>How many times a request answered 429 is sent again after the pause before its 429 becomes its result
    /// (default 5, 0 to 100). Nothing is charged for a 429.</summary>
    public int MaxRateLimitRetries { get; set; } = 5;

    /// <summary>The largest file <c>POST /v1/files</c> accepts, in bytes (default 200 MiB, 1 KiB to 2 GiB); a larger upload is answered 413.</summary>
    public long MaxFileBytes { get; set; } = 200L * 1024 * 1024;

    /// <summary>The most requests one batch may hold (default 50000, 1 to 1000000).</summary>
    public int MaxRequestsPerBatch { get; set; } = 50_000;

    /// <summary>How often the worker looks for batches to run that it was not told about (created by another node, or due to
    /// expire), in seconds (default 5, 0.05 to 3600).</summary>
    public double PollIntervalSeconds { get; set; } = 5;

    /// <summary>How long a worker's claim on a batch request (or on a batch's finalization, native submission and polling) lives
    /// without being renewed, in seconds (default 60, 0.5 to 3600); only with <c>Qlaud:Storage:Provider</c> <c>postgres</c>,
    /// where workers on several instances share the batches.</summary>
    /// <remarks>A live instance renews its claims every quarter of this time. The requests an instance claimed and had not
    /// recorded a result for when it died are claimed by another instance this long after its last renewal and sent again.</remarks>
    public double ClaimSeconds { get; set; } = 60;
}
