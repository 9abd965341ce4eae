namespace Qlaud.Configuration;

/// <summary>One route of a model: a provider, its id for the model, and its prices in USD per million tokens.</summary>
public sealed class RouteOptions
{
    /// <summary>The provider name (a key of <c>Qlaud:Providers</c> or a built-in provider).</summary>
    public string? Provider { get; set; }

    /// <summary>The model id the provider expects. Defaults to the model id.</summary>
    public string? UpstreamModel { get; set; }

    /// <summary>USD per million input tokens.</summary>
    public decimal? InputPerMTok { get; set; }

    /// <summary>USD per million output tokens (reasoning tokens included).</summary>
    public decimal? OutputPerMTok { get; set; }

    /// <summary>USD per million input tokens read from the prompt cache; defaults to the input price.</summary>
    public decimal? CacheReadPerMTok { get; set; }

    /// <summary>USD per million input tokens written to the prompt cache; defaults to the input price.</summary>
    public decimal? CacheWritePerMTok { get; set; }

    /// <summary>The input tokens above which a request is billed at the <c>LongContext*</c> prices (for example 200000); unset for one price.</summary>
    public long? LongContextThresholdTokens { get; set; }

    /// <summary>USD per million input tokens of a request above <see cref="LongContextThresholdTokens"/>.</summary>
    public decimal? LongContextInputPerMTok { get; set; }

    /// <summary>USD per million output tokens of a request above <see cref="LongContextThresholdTokens"/>.</summary>
    public decimal? LongContextOutputPerMTok { get; set; }

    /// <summary>USD per million cache-read tokens above the threshold; defaults to the long-context input price.</summary>
    public decimal? LongContextCacheReadPerMTok { get; set; }

    /// <summary>USD per million cache-write tokens above the threshold; defaults to the long-context input price.</summary>
    public decimal? LongContextCacheWritePerMTok { get; set; }

    /// <summary>The context length this route serves, when it differs from the model's (some hosts serve a shorter context).</summary>
    public int? ContextLength { get; set; }

    /// <summary>The percent the provider takes off its prices for requests run through its own batch API (0–100; the built-in
    /// catalog gives OpenAI and Anthropic routes 50). A route with a discount is one Qlaud can submit batches to natively.</summary>
    public decimal? BatchDiscountPercent { get; set; }

    /// <summary>The capabilities this route supports, when they differ from the model's (for example a host without tool calling).</summary>
    public List<string>? Capabilities { get; set; }
}
