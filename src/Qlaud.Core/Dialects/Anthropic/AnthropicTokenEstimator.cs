using Qlaud.Tokenization;

namespace Qlaud.Dialects.Anthropic;

/// <summary>
/// Estimates the input tokens of a request for <c>POST /v1/messages/count_tokens</c> when the route's upstream cannot count
/// them (non-Anthropic models).
/// </summary>
/// <remarks>
/// Counted by <see cref="ConversationTokens"/> with the route model's tokenizer (<see cref="TokenCounter.EncodingFor"/>):
/// exact text counts for OpenAI models, <c>cl100k_base</c> as the approximation for other families; images, documents and
/// audio by <see cref="MediaTokens"/>. It is an estimate for budgeting and context management, never used for billing.
/// </remarks>
internal static class AnthropicTokenEstimator
{
    /// <summary>Estimates the input tokens of <paramref name="request"/> for its own model (<c>ChatOptions.ModelId</c>).</summary>
    public static int EstimateInputTokens(CanonicalChatRequest request) => EstimateInputTokens(request, request?.Options.ModelId);

    /// <summary>Estimates the input tokens of <paramref name="request"/> as <paramref name="model"/> counts them.</summary>
    public static int EstimateInputTokens(CanonicalChatRequest? request, string? model)
    {
        ArgumentNullException.ThrowIfNull(request);
        long tokens = ConversationTokens.Count(request.Messages, request.Options, TokenCounter.EncodingFor(model));
        return tokens > int.MaxValue ? int.MaxValue : (int)tokens;
    }
}
