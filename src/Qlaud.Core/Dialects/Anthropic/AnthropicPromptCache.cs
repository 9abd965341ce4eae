using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.Anthropic;

/// <summary>
/// Decides whether a request translated for an Anthropic upstream gets automatic prompt-cache breakpoints: a client of another
/// dialect cannot send <c>cache_control</c>, so without them a repeated prefix (tools, system prompt, earlier turns) would be
/// billed at the full input price on every turn.
/// </summary>
/// <remarks>
/// Breakpoints are placed when the request carries none of its own and its prefix — tools, system prompt and every turn before
/// the final one, estimated with <see cref="AnthropicTokenEstimator"/> — reaches the model's minimum cacheable length as
/// Anthropic documents it: 4096 tokens for Claude Opus 4.5 / 4.6 and Haiku 4.5, 2048 for Sonnet 4.6 and Haiku 3 / 3.5, 1024
/// for the others. A shorter prefix would only be written to the cache at the cache-write price and never read.
/// </remarks>
internal static class AnthropicPromptCache
{
    /// <summary>The smallest prompt prefix, in tokens, that Anthropic caches for <paramref name="upstreamModel"/>.</summary>
    public static int MinimumCacheableTokens(string upstreamModel)
    {
        ArgumentNullException.ThrowIfNull(upstreamModel);
        var model = upstreamModel.AsSpan();
        if (Has(model, "opus-4-6") || Has(model, "opus-4-5") || Has(model, "haiku-4-5"))
        {
            return 4096;
        }

        return Has(model, "sonnet-4-6") || Has(model, "haiku") ? 2048 : 1024;

        static bool Has(ReadOnlySpan<char> model, string part) => model.Contains(part, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Whether <paramref name="request"/> should get breakpoints on its way to <paramref name="upstreamModel"/>.</summary>
    public static bool ShouldPlaceBreakpoints(CanonicalChatRequest request, string upstreamModel)
    {
        ArgumentNullException.ThrowIfNull(request);
        var messages = request.Messages;
        if (HasCacheControl(request))
        {
            return false;
        }

        // The prefix ends before the final turn: the trailing run of user and tool messages (system messages are hoisted).
        int prefixEnd = messages.Count;
        while (prefixEnd > 0 && messages[prefixEnd - 1].Role != ChatRole.Assistant)
        {
            prefixEnd--;
        }

        var prefix = new List<ChatMessage>(prefixEnd + 1);
        for (int i = 0; i < messages.Count; i++)
        {
            if (i < prefixEnd || messages[i].Role == ChatRole.System)
            {
                prefix.Add(messages[i]);
            }
        }

        return AnthropicTokenEstimator.EstimateInputTokens(new CanonicalChatRequest(prefix, request.Options, false)) >= MinimumCacheableTokens(upstreamModel);
    }

    private static bool HasCacheControl(CanonicalChatRequest request)
    {
        var messages = request.Messages;
        for (int i = 0; i < messages.Count; i++)
        {
            var contents = messages[i].Contents;
            for (int j = 0; j < contents.Count; j++)
            {
                if (contents[j].AdditionalProperties?.ContainsKey(CanonicalKeys.CacheControl) is true)
                {
                    return true;
                }
            }
        }

        if (request.Options.Tools is { } tools)
        {
            for (int i = 0; i < tools.Count; i++)
            {
                if (tools[i].AdditionalProperties.ContainsKey(CanonicalKeys.CacheControl))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
