namespace Qlaud.FakeProvider;

/// <summary>Token usage a scripted reply reports. Any number left <see langword="null"/> is computed.</summary>
/// <remarks>
/// <para>The numbers are written verbatim, without arithmetic between them, so a test controls exactly what
/// the gateway sees. Field mapping:</para>
/// <list type="bullet">
/// <item><see cref="InputTokens"/>: OpenAI <c>prompt_tokens</c>, Anthropic <c>input_tokens</c>.</item>
/// <item><see cref="OutputTokens"/>: OpenAI <c>completion_tokens</c>, Anthropic <c>output_tokens</c>.</item>
/// <item><see cref="CachedTokens"/>: OpenAI <c>prompt_tokens_details.cached_tokens</c>, Anthropic <c>cache_read_input_tokens</c>.</item>
/// <item><see cref="CacheCreationTokens"/>: Anthropic <c>cache_creation_input_tokens</c> (OpenAI has no such field).</item>
/// <item><see cref="ReasoningTokens"/>: OpenAI <c>completion_tokens_details.reasoning_tokens</c> (Anthropic counts thinking inside output tokens).</item>
/// </list>
/// <para>Computed defaults: input = request body bytes / 4 (at least 1); output = words of text and reasoning
/// plus a quarter of the tool-argument characters (at least 1); reasoning = words of reasoning; the cache numbers 0.</para>
/// </remarks>
public sealed record FakeUsage
{
    /// <summary>Prompt / input tokens.</summary>
    public int? InputTokens { get; init; }

    /// <summary>Completion / output tokens.</summary>
    public int? OutputTokens { get; init; }

    /// <summary>Tokens read from the prompt cache.</summary>
    public int? CachedTokens { get; init; }

    /// <summary>Tokens written to the prompt cache (Anthropic only).</summary>
    public int? CacheCreationTokens { get; init; }

    /// <summary>Reasoning tokens (OpenAI only).</summary>
    public int? ReasoningTokens { get; init; }
}
