using Qlaud.Dialects;
using Qlaud.Providers;
using Qlaud.Routing;

namespace Qlaud.Forwarding;

/// <summary>A chat (or embeddings) request as it arrived on a wire surface: its dialect, raw body, the fields scanned from it, and the caller.</summary>
internal sealed class InboundChat
{
    public required IChatDialect Surface { get; init; }

    public required ReadOnlyMemory<byte> Body { get; init; }

    public required WireRequestInfo Info { get; init; }

    public ForwardedHeaders Headers { get; init; }

    public required QlaudCaller Caller { get; init; }

    /// <summary>The gateway's id for this request (the <c>x-qlaud-request-id</c> header), recorded with its ledger entry.</summary>
    public string? RequestId { get; init; }

    /// <summary>The batch the request belongs to (its ledger entry names it); null for an interactive request.</summary>
    public string? BatchId { get; init; }

    /// <summary>The request's fallback <c>models</c> and <c>provider</c> preferences, when it carries them.</summary>
    public RoutingRequest? Routing { get; init; }

    /// <summary>An OpenAI <c>POST /v1/embeddings</c> request: routed to embedding models only, always passthrough, never streamed.</summary>
    public bool Embeddings { get; init; }

    /// <summary>The body decoded to the canonical model, once a translated attempt needed it.</summary>
    public CanonicalChatRequest? Canonical { get; set; }
}
