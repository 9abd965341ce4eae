using Microsoft.Extensions.AI;
using Qlaud.Catalog;
using Qlaud.Forwarding;
using Qlaud.Tokenization;

namespace Qlaud.Metering;

/// <summary>Computes a request's worst-case cost before the upstream call.</summary>
/// <remarks>
/// Input tokens are counted by <see cref="TokenBound"/>, one pass over the text that stays at or above what OpenAI's
/// tokenizers count (running the tokenizer itself costs about 90 µs per KB, too much for every request; it serves
/// <c>count_tokens</c>), plus <see cref="TokenCounter.NonOpenAIReservationPercent"/> percent when a candidate route is not
/// an OpenAI model, since Claude's tokenizers count more. A wire body is counted as it is, JSON syntax included, which
/// stands in for the per-message framing; inline images, documents and audio are counted apart by <see cref="MediaTokens"/>
/// (a 4 MB image is about 1,600 tokens, not its base64 size as text). Output tokens are the request's <c>max_tokens</c>
/// (capped at the model's maximum), else the model's maximum, else <see cref="DefaultMaxOutputTokens"/>. A request that
/// costs more than its reservation is billed only up to what the cap and wallet allow, and the rest is recorded as written off.
/// </remarks>
internal static class SpendEstimator
{
    /// <summary>Request bytes counted as one input token when only the body's size is known.</summary>
    public const int BytesPerToken = 3;

    /// <summary>The output allowance when neither the request nor the catalog gives one.</summary>
    public const int DefaultMaxOutputTokens = 32_768;

    /// <summary>The estimate from the body's size alone (3 bytes per token), for callers that do not have the body.</summary>
    public static long EstimateInputTokens(int bodyBytes) => bodyBytes <= 0 ? 0 : ((long)bodyBytes + BytesPerToken - 1) / BytesPerToken;

    /// <summary>Estimates the input tokens of a raw wire body for the routes it may be served by.</summary>
    /// <param name="body">The request body (JSON).</param>
    /// <param name="info">What <see cref="WireRequestScanner.Scan"/> read from it: the inline media and its estimate.</param>
    /// <param name="candidates">The candidate routes; a model that is not OpenAI's adds the margin.</param>
    public static long EstimateInputTokens(ReadOnlySpan<byte> body, in WireRequestInfo info, IReadOnlyList<CatalogRoute> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        long text = 0;
        int at = 0;
        if (info.MediaSpans is { } spans)
        {
            for (int i = 0; i < spans.Count; i++)
            {
                text += TokenBound.Count(body[at..spans[i].Start]);
                at = spans[i].Start + spans[i].Length;
            }
        }

        text += TokenBound.Count(body[at..]);
        return (AllOpenAI(candidates) ? text : TokenCounter.WithNonOpenAIMargin(text)) + info.MediaTokens;
    }

    /// <summary>Estimates input tokens of an in-process request (<see cref="ConversationTokens.Bound"/>, the margin unless <see cref="ChatOptions.ModelId"/> is an OpenAI model).</summary>
    public static long EstimateInputTokens(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return EstimateInputTokens(ConversationTokens.Bound(messages, options), options);
    }

    /// <summary>The same from a <see cref="ConversationTokens.Bound"/> the caller computed already.</summary>
    public static long EstimateInputTokens(long bound, ChatOptions? options)
        => TokenCounter.IsOpenAIFamily(options?.ModelId) ? bound : TokenCounter.WithNonOpenAIMargin(bound);

    private static bool AllOpenAI(IReadOnlyList<CatalogRoute> candidates)
    {
        for (int i = 0; i < candidates.Count; i++)
        {
            if (!TokenCounter.IsOpenAIFamily(candidates[i].UpstreamModel))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The output allowance: <paramref name="requested"/> capped at the model's maximum, else the model's maximum;
    /// 0 for an embedding model, which generates no tokens.</summary>
    public static long MaxOutputTokens(long? requested, CatalogModel? model)
    {
        if (model is { IsEmbedding: true })
        {
            return 0;
        }

        long modelMax = model?.MaxOutputTokens > 0 ? model.MaxOutputTokens : 0;
        return requested switch
        {
            > 0 when modelMax > 0 => Math.Min(requested.Value, modelMax),
            > 0 => requested.Value,
            _ => modelMax > 0 ? modelMax : DefaultMaxOutputTokens,
        };
    }

    /// <summary>The worst case over <paramref name="candidates"/> (a fallback may land on any of them).</summary>
    public static SpendEstimate Estimate(IReadOnlyList<CatalogRoute> candidates, long inputTokens, long outputTokens, decimal markupPercent)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        long worst = 0;
        for (int i = 0; i < candidates.Count; i++)
        {
            worst = Math.Max(worst, WorstCaseUpstreamMicros(candidates[i].Price, inputTokens, outputTokens));
        }

        return new SpendEstimate(inputTokens, outputTokens, MarkupPricing.Charge(worst, markupPercent));
    }

    /// <summary>The upstream cost if every input token were billed at the route's dearest input rate (cache writes cost more than input on some providers),
    /// at the long-context tier's rates when <paramref name="inputTokens"/> is above its threshold.</summary>
    public static long WorstCaseUpstreamMicros(ModelPrice price, long inputTokens, long outputTokens)
    {
        price = price.For(inputTokens);
        long inputRate = Math.Max(price.InputMicrosPerMTok, Math.Max(price.CacheReadMicrosPerMTok, price.CacheWriteMicrosPerMTok));
        return new ModelPrice(inputRate, price.OutputMicrosPerMTok, inputRate, inputRate).Cost(inputTokens, 0, 0, outputTokens);
    }
}
