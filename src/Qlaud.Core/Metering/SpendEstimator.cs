using System.Text;
using Microsoft.Extensions.AI;
using Qlaud.Catalog;

namespace Qlaud.Metering;

/// <summary>Computes a request's worst-case cost before the upstream call.</summary>
/// <remarks>
/// Input tokens are estimated from the request size at <see cref="BytesPerToken"/> bytes per token: byte-level BPE
/// tokenizers average about 4 bytes per token for English and about 3 for code and most other scripts, and the JSON
/// around the text adds bytes but few tokens, so this errs high for text. Images sent by URL are the known case where
/// it errs low; a request that costs more than its reservation is billed only up to what the cap and wallet allow, and
/// the rest is recorded as written off. Output tokens are the request's <c>max_tokens</c> (capped at the model's
/// maximum), else the model's maximum, else <see cref="DefaultMaxOutputTokens"/>.
/// </remarks>
internal static class SpendEstimator
{
    /// <summary>Request bytes counted as one input token.</summary>
    public const int BytesPerToken = 3;

    /// <summary>The output allowance when neither the request nor the catalog gives one.</summary>
    public const int DefaultMaxOutputTokens = 32_768;

    /// <summary>Per-message overhead tokens (role and separators) in in-process estimates.</summary>
    private const int MessageOverheadTokens = 8;

    public static long EstimateInputTokens(int bodyBytes) => bodyBytes <= 0 ? 0 : ((long)bodyBytes + BytesPerToken - 1) / BytesPerToken;

    /// <summary>Estimates input tokens of an in-process request from the UTF-8 size of its text, arguments, results and data.</summary>
    public static long EstimateInputTokens(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        long bytes = Encoding.UTF8.GetByteCount(options?.Instructions ?? "");
        long overhead = 0;
        foreach (var message in messages)
        {
            overhead += MessageOverheadTokens;
            foreach (var content in message.Contents)
            {
                bytes += content switch
                {
                    TextContent text => Encoding.UTF8.GetByteCount(text.Text ?? ""),
                    TextReasoningContent reasoning => Encoding.UTF8.GetByteCount(reasoning.Text ?? ""),
                    DataContent data => data.Data.Length,
                    UriContent uri => uri.Uri.OriginalString.Length + 4096, // a linked image: a generous fixed allowance
                    FunctionCallContent call => 64 + (call.Arguments?.Count ?? 0) * 64,
                    FunctionResultContent result => Encoding.UTF8.GetByteCount(result.Result?.ToString() ?? ""),
                    _ => 64,
                };
            }
        }

        foreach (var tool in options?.Tools ?? [])
        {
            bytes += 256 + Encoding.UTF8.GetByteCount(tool.Description ?? "");
        }

        return overhead + ((bytes + BytesPerToken - 1) / BytesPerToken);
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

    /// <summary>The upstream cost if every input token were billed at the route's dearest input rate (cache writes cost more than input on some providers).</summary>
    public static long WorstCaseUpstreamMicros(ModelPrice price, long inputTokens, long outputTokens)
    {
        long inputRate = Math.Max(price.InputMicrosPerMTok, Math.Max(price.CacheReadMicrosPerMTok, price.CacheWriteMicrosPerMTok));
        return new ModelPrice(inputRate, price.OutputMicrosPerMTok, inputRate, inputRate).Cost(inputTokens, 0, 0, outputTokens);
    }
}
