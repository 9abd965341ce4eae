using Qlaud.Dialects;

namespace Qlaud.Routing;

/// <summary>What routing needs to know about a request to judge and price its routes, estimated without tokenizing.</summary>
/// <param name="HasTools">The request declares tools.</param>
/// <param name="EstimatedInputTokens">Input tokens expected, for price ordering (about 4 bytes of JSON text per token).</param>
/// <param name="MinimumInputTokens">A deliberately low estimate (6 bytes per token) for the context-length check, so only
/// requests that cannot fit are turned away before sending; a provider's own context error moves on as well.</param>
/// <param name="MaxOutputTokens">The request's <c>max_tokens</c>, when set.</param>
/// <param name="Embeddings">An embeddings request: only embedding models serve it, and they serve nothing else.</param>
/// <param name="Images">An image generation request: only image models serve it, and they serve nothing else.</param>
internal readonly record struct RequestTraits(bool HasTools, long EstimatedInputTokens, long MinimumInputTokens, long? MaxOutputTokens, bool Embeddings = false,
    bool Images = false)
{
    /// <summary>Traits of an image generation request whose prompt is estimated at <paramref name="promptTokens"/>.</summary>
    public static RequestTraits ForImages(long promptTokens) => new(false, promptTokens, 0, null, Images: true);

    /// <summary>Traits of a raw wire body: its size without inline media, plus the media's own estimate (<see cref="Tokenization.MediaTokens"/>).</summary>
    public static RequestTraits FromWire(int bodyLength, in Forwarding.WireRequestInfo info)
    {
        long text = Math.Max(0, bodyLength - info.MediaBytes);
        long media = info.MediaTokens;
        return new RequestTraits(info.HasTools, (text / 4) + media, (text / 6) + media, info.MaxTokens);
    }

    /// <summary>Traits of an embeddings request whose input is estimated at <paramref name="inputTokens"/>.</summary>
    public static RequestTraits ForEmbeddings(long inputTokens) => new(false, inputTokens, 0, null, Embeddings: true);

    /// <summary>Traits of an in-process request: <see cref="Tokenization.ConversationTokens.Bound"/>, which is one to three times
    /// the real count, so a third of it is the low estimate.</summary>
    public static RequestTraits FromCanonical(CanonicalChatRequest request)
        => FromBound(request.Options, Tokenization.ConversationTokens.Bound(request.Messages, request.Options));

    /// <summary>The same from a <see cref="Tokenization.ConversationTokens.Bound"/> the caller computed already.</summary>
    public static RequestTraits FromBound(Microsoft.Extensions.AI.ChatOptions options, long tokens)
        => new(options.Tools is { Count: > 0 }, tokens, tokens / 3, options.MaxOutputTokens);
}

/// <summary>The routes to try for a request, in order, or why there are none.</summary>
/// <param name="Candidates">The routes, first preferred.</param>
/// <param name="Error">Why the request cannot be routed; null when there are candidates.</param>
internal readonly record struct RouteSelection(IReadOnlyList<Catalog.CatalogRoute> Candidates, QlaudError? Error)
{
    /// <summary>The error code when no route can serve a request (capabilities, context length, the caller's provider preferences).</summary>
    public const string UnsuitableCode = "no_suitable_route";
}
