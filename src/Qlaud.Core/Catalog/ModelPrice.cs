using Microsoft.Extensions.AI;

namespace Qlaud.Catalog;

/// <summary>A route's prices in integer micro-USD per million tokens.</summary>
/// <param name="InputMicrosPerMTok">Uncached input tokens.</param>
/// <param name="OutputMicrosPerMTok">Output tokens, reasoning tokens included.</param>
/// <param name="CacheReadMicrosPerMTok">Input tokens read from the prompt cache.</param>
/// <param name="CacheWriteMicrosPerMTok">Input tokens written to the prompt cache.</param>
/// <remarks>A route may have a <see cref="LongContext"/> tier: a request whose input (uncached, cache reads and writes together)
/// exceeds the tier's threshold is billed entirely at the tier's rates, as Google and Anthropic price their long-context requests.</remarks>
public readonly record struct ModelPrice(long InputMicrosPerMTok, long OutputMicrosPerMTok, long CacheReadMicrosPerMTok, long CacheWriteMicrosPerMTok)
{
    /// <summary>The prices of requests with more input tokens than the tier's threshold; null when the route has one price.</summary>
    public LongContextPrice? LongContext { get; init; }

    /// <summary>The prices that apply to a request with <paramref name="inputTokens"/> input tokens (all of them, cached or not).</summary>
    public ModelPrice For(long inputTokens) => LongContext is { } tier && inputTokens > tier.ThresholdTokens ? tier.Price : this;

    /// <summary>Converts USD per million tokens to micro-USD per million tokens, rounding to the nearest micro-USD.</summary>
    public static long MicrosFromUsd(decimal usd) => (long)decimal.Round(usd * 1_000_000m, MidpointRounding.AwayFromZero);

    /// <summary>The cost of <paramref name="usage"/> in micro-USD, rounded up.</summary>
    /// <remarks>
    /// <see cref="UsageDetails.InputTokenCount"/> counts all input tokens; cached reads
    /// (<see cref="UsageDetails.CachedInputTokenCount"/>) and cache writes (<c>cache_creation_input_tokens</c> in
    /// <see cref="UsageDetails.AdditionalCounts"/>) are priced at their own rates and the rest at the input rate.
    /// </remarks>
    public long Cost(UsageDetails usage) => Cost(Metering.TokenUsage.From(usage));

    /// <summary>The cost of <paramref name="usage"/> in micro-USD, rounded up; cache reads and writes at their own rates.</summary>
    public long Cost(in Metering.TokenUsage usage)
    {
        var price = LongContext is null ? this : For(usage.Input);
        return price.Cost(Math.Max(0, usage.Input - usage.CacheRead - usage.CacheWrite), usage.CacheRead, usage.CacheWrite, usage.Output);
    }

    /// <summary>The cost of the given token counts in micro-USD at these rates (not the long-context tier's), rounded up to a whole micro-USD.</summary>
    public long Cost(long uncachedInput, long cacheRead, long cacheWrite, long output)
    {
        // Micro-USD per million tokens times tokens stays far inside long range for any real request
        // (10^8 micro-USD/MTok × 10^8 tokens = 10^16); the division happens once, rounding up.
        long microMillionths = (uncachedInput * InputMicrosPerMTok) + (cacheRead * CacheReadMicrosPerMTok)
            + (cacheWrite * CacheWriteMicrosPerMTok) + (output * OutputMicrosPerMTok);
        return (microMillionths + 999_999) / 1_000_000;
    }
}
