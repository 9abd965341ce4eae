using Microsoft.Extensions.AI;
using Qlaud.Dialects;

namespace Qlaud.Metering;

/// <summary>Token counts of one exchange as the upstream reported them.</summary>
/// <param name="Input">All input tokens, cached and cache-written ones included.</param>
/// <param name="Output">Output tokens, reasoning tokens included.</param>
/// <param name="CacheRead">Input tokens read from the prompt cache.</param>
/// <param name="CacheWrite">Input tokens written to the prompt cache.</param>
/// <param name="Reasoning">Reasoning (thinking) tokens, a part of <paramref name="Output"/>.</param>
public readonly record struct TokenUsage(long Input, long Output, long CacheRead = 0, long CacheWrite = 0, long Reasoning = 0)
{
    /// <summary>The canonical <see cref="UsageDetails"/> for these counts.</summary>
    public UsageDetails ToUsageDetails()
    {
        var details = new UsageDetails
        {
            InputTokenCount = Input,
            OutputTokenCount = Output,
            TotalTokenCount = Input + Output,
            CachedInputTokenCount = CacheRead,
            ReasoningTokenCount = Reasoning,
        };
        if (CacheWrite > 0)
        {
            details.AdditionalCounts = new() { [CanonicalKeys.CacheWriteTokens] = CacheWrite };
        }

        return details;
    }

    /// <summary>Counts from canonical <see cref="UsageDetails"/>.</summary>
    public static TokenUsage From(UsageDetails usage)
    {
        ArgumentNullException.ThrowIfNull(usage);
        long cacheWrite = usage.AdditionalCounts is { } counts && counts.TryGetValue(CanonicalKeys.CacheWriteTokens, out long w) ? w : 0;
        return new TokenUsage(usage.InputTokenCount ?? 0, usage.OutputTokenCount ?? 0, usage.CachedInputTokenCount ?? 0, cacheWrite, usage.ReasoningTokenCount ?? 0);
    }

    /// <summary>Adds usage reported in pieces. Stream decoders emit increments (Anthropic: input at <c>message_start</c>,
    /// the rest at <c>message_delta</c>) that sum to the total, as Microsoft.Extensions.AI's <c>ToChatResponse</c> sums them.</summary>
    internal static TokenUsage Combine(TokenUsage? previous, TokenUsage next) => previous is not { } p ? next : new TokenUsage(
        p.Input + next.Input, p.Output + next.Output, p.CacheRead + next.CacheRead, p.CacheWrite + next.CacheWrite, p.Reasoning + next.Reasoning);
}
