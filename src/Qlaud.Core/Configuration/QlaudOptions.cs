namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud</c> configuration section: storage, pricing, bootstrap key, providers and models.</summary>
/// <remarks>
/// Bound from any configuration source (<c>appsettings.json</c>, environment variables such as
/// <c>Qlaud__Providers__openai__ApiKey</c>). Validated at start-up: a misconfigured gateway does not start, and
/// the error names the offending key.
/// </remarks>
public sealed class QlaudOptions
{
    /// <summary>The configuration section name, <c>Qlaud</c>.</summary>
    public const string SectionName = "Qlaud";

    /// <summary>Where keys, wallets, the ledger and threads are stored.</summary>
    public StorageOptions Storage { get; set; } = new();

    /// <summary>How upstream cost becomes the charged price.</summary>
    public PricingOptions Pricing { get; set; } = new();

    /// <summary>Spend metering: wallet enforcement, the ledger writer, the key cache.</summary>
    public MeteringOptions Metering { get; set; } = new();

    /// <summary>Bounds on request bodies, stream events, the ledger queue, storage waits and failed authentications.</summary>
    public LimitsOptions Limits { get; set; } = new();

    /// <summary>Credentials the gateway starts with.</summary>
    public BootstrapOptions Bootstrap { get; set; } = new();

    /// <summary>Retries, timeouts, circuit breaking and live statistics; providers can override the timeouts and retries.</summary>
    public RoutingOptions Routing { get; set; } = new();

    /// <summary>Providers by name. Entries add new providers or override the built-in ones (base URL, key, headers).</summary>
    public Dictionary<string, ProviderOptions> Providers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Models to add to the built-in catalog, or to override by <see cref="ModelOptions.Id"/>.</summary>
    public List<ModelOptions> Models { get; set; } = [];

    /// <summary>Whether the built-in catalog file is loaded (default <see langword="true"/>). Set to false to serve only configured models.</summary>
    public bool UseBuiltInCatalog { get; set; } = true;


    /// <summary>Managed threads: the summary model of the <c>summarize</c> context strategy, and retention.</summary>
    public ThreadsOptions Threads { get; set; } = new();

    /// <summary>Stripe Checkout top-ups of the prepaid wallet and the signed webhook that credits them.</summary>
    public StripeOptions Stripe { get; set; } = new();

    /// <summary>Search over thread messages: indexing, the embedding model, the vector index.</summary>
    public SearchOptions Search { get; set; } = new();
    /// <summary>Background batch jobs: concurrency, file size and batch size limits.</summary>
    public BatchesOptions Batches { get; set; } = new();

    /// <summary>Generated images served by the gateway at limited-time URLs.</summary>
    public ImagesOptions Images { get; set; } = new();
}
