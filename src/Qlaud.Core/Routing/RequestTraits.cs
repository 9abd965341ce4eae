using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;

namespace Qlaud.Routing;

/// <summary>What routing needs to know about a request to judge and price its routes, estimated without tokenizing.</summary>
/// <param name="HasTools">The request declares tools.</param>
/// <param name="EstimatedInputTokens">Input tokens expected, for price ordering (about 4 bytes of JSON text per token).</param>
/// <param name="MinimumInputTokens">A deliberately low estimate (6 bytes per token) for the context-length check, so only
/// requests that cannot fit are turned away before sending; a provider's own context error moves on as well.</param>
/// <param name="MaxOutputTokens">The request's <c>max_tokens</c>, when set.</param>
/// <param name="Embeddings">An embeddings request: only embedding models serve it, and they serve nothing else.</param>
internal readonly record struct RequestTraits(bool HasTools, long EstimatedInputTokens, long MinimumInputTokens, long? MaxOutputTokens, bool Embeddings = false)
{
    /// <summary>Tokens charged for one inline image or file when estimating (inline data is counted apart from its base64 size).</summary>
    internal const int TokensPerMedia = 1_600;

    /// <summary>Traits of a raw wire body: its size without inline media, plus a flat cost per inline image or file.</summary>
    public static RequestTraits FromWire(int bodyLength, in Forwarding.WireRequestInfo info)
    {
        long text = Math.Max(0, bodyLength - info.MediaBytes);
        long media = (long)info.MediaCount * TokensPerMedia;
        return new RequestTraits(info.HasTools, (text / 4) + media, (text / 6) + media, info.MaxTokens);
    }

    /// <summary>Traits of an embeddings request whose input is estimated at <paramref name="inputTokens"/>.</summary>
    public static RequestTraits ForEmbeddings(long inputTokens) => new(false, inputTokens, 0, null, Embeddings: true);

    /// <summary>Traits of an in-process request.</summary>
    public static RequestTraits FromCanonical(CanonicalChatRequest request)
    {
        long tokens = AnthropicTokenEstimator.EstimateInputTokens(request);
        return new RequestTraits(request.Options.Tools is { Count: > 0 }, tokens, tokens * 2 / 3, request.Options.MaxOutputTokens);
    }
}

/// <summary>The routes to try for a request, in order, or why there are none.</summary>
/// <param name="Candidates">The routes, first preferred.</param>
/// <param name="Error">Why the request cannot be routed; null when there are candidates.</param>
internal readonly record struct RouteSelection(IReadOnlyList<Catalog.CatalogRoute> Candidates, QlaudError? Error)
{
    /// <summary>The error code when no route can serve a request (capabilities, context length, the caller's provider preferences).</summary>
    public const string UnsuitableCode = "no_suitable_route";
}
