namespace Qlaud.Routing;

/// <summary>
/// How a request wants its routes chosen, OpenRouter-style: the wire <c>provider</c> object, or
/// <c>ChatOptions.AdditionalProperties[QlaudChatOptions.Provider]</c> in process. Applies to every model the request may use.
/// </summary>
/// <remarks>Provider names are the keys of <c>Qlaud:Providers</c> (and the built-in provider names), compared case-insensitively.</remarks>
public sealed record ProviderPreferences
{
    /// <summary>Providers to try first, in this order (wire <c>order</c>); the model's other routes follow unless <see cref="AllowFallbacks"/> is false.</summary>
    public IReadOnlyList<string>? Order { get; init; }

    /// <summary>Use only these providers (wire <c>only</c>).</summary>
    public IReadOnlyList<string>? Only { get; init; }

    /// <summary>Never use these providers (wire <c>ignore</c>).</summary>
    public IReadOnlyList<string>? Ignore { get; init; }

    /// <summary>Order the routes by price, throughput or latency instead of the catalog's priority (wire <c>sort</c>).</summary>
    public ProviderSort? Sort { get; init; }

    /// <summary>When false, only the providers in <see cref="Order"/> are used, or without an order only the first route (wire <c>allow_fallbacks</c>, default true).</summary>
    public bool AllowFallbacks { get; init; } = true;

    /// <summary>The highest input price accepted, in USD per million tokens (wire <c>max_price.prompt</c>).</summary>
    public decimal? MaxPromptPrice { get; init; }

    /// <summary>The highest output price accepted, in USD per million tokens (wire <c>max_price.completion</c>).</summary>
    public decimal? MaxCompletionPrice { get; init; }
}

/// <summary>A route ordering asked for by <see cref="ProviderPreferences.Sort"/>.</summary>
public enum ProviderSort
{
    /// <summary>Cheapest first for the request's expected token mix (as <c>:floor</c>).</summary>
    Price,

    /// <summary>Highest measured output tokens per second first (as <c>:nitro</c>); routes without data follow in priority order.</summary>
    Throughput,

    /// <summary>Lowest measured median time to first token first; routes without data follow in priority order.</summary>
    Latency,
}
