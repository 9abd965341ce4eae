using Qlaud.Embeddings;
using Qlaud.Routing;

namespace Qlaud.Forwarding;

/// <summary>The checks a wire chat or embeddings body passes before it is forwarded: shared by the HTTP endpoints and the batch worker.</summary>
internal static class InboundCheck
{
    /// <summary>Scans <paramref name="body"/> and checks its fields: a JSON object, a valid embeddings input, valid <c>models</c>
    /// and <c>provider</c> routing fields, a model named.</summary>
    /// <returns>The 400 to answer, or null when the body may be forwarded.</returns>
    public static QlaudError? Check(ReadOnlySpan<byte> body, bool embeddings, out WireRequestInfo info, out RoutingRequest? routing)
    {
        routing = null;
        if (WireRequestScanner.Scan(body, out info) is { } scanError)
        {
            return new QlaudError(QlaudErrorKind.InvalidRequest, scanError);
        }

        if (embeddings && EmbeddingRequestValidator.Validate(body) is { } embeddingsError)
        {
            return new QlaudError(QlaudErrorKind.InvalidRequest, embeddingsError);
        }

        if (info.HasRoutingFields
            && RoutingRequest.Parse(info.ModelsMember.Value(body), info.ProviderMember.Value(body), out routing) is { } routingError)
        {
            return new QlaudError(QlaudErrorKind.InvalidRequest, routingError);
        }

        if (string.IsNullOrEmpty(info.Model) && routing is not { Models.Count: > 0 })
        {
            return new QlaudError(QlaudErrorKind.InvalidRequest, "'model' is required.", "missing_model");
        }

        return null;
    }
}
