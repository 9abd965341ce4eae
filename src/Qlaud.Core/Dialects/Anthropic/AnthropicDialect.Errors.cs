using System.Text.Json;

namespace Qlaud.Dialects.Anthropic;

// Error envelopes: {"type":"error","error":{"type":...,"message":...}}.
internal sealed partial class AnthropicDialect
{
    /// <inheritdoc />
    /// <remarks>The error type follows Anthropic's documented types for the status: 402 is <c>billing_error</c> and 504
    /// <c>timeout_error</c> (both in Anthropic's error type list), 503 <c>overloaded_error</c>, 500 and 502
    /// <c>api_error</c>; an upstream's error answer keeps its own type, or the Anthropic type for it
    /// (<see cref="UpstreamErrorTypes"/>). Anthropic's envelope has no code field, so <see cref="QlaudError.Code"/> is not written.</remarks>
    public void WriteError(Utf8JsonWriter writer, QlaudError error)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(error);
        WriteErrorObject(writer, error);
    }

    /// <summary>Writes the error envelope (also used for the stream's <c>error</c> event).</summary>
    internal static void WriteErrorObject(Utf8JsonWriter writer, QlaudError error)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "error");
        writer.WritePropertyName("error");
        writer.WriteStartObject();
        writer.WriteString("type", error.UpstreamStatus is { } status ? UpstreamErrorTypes.ForAnthropic(status, error.UpstreamType, error.UpstreamDialect) : ErrorType(error.Kind));
        writer.WriteString("message", error.Message);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>Anthropic's error type for <paramref name="kind"/>.</summary>
    internal static string ErrorType(QlaudErrorKind kind) => kind switch
    {
        QlaudErrorKind.InvalidRequest => "invalid_request_error",
        QlaudErrorKind.Authentication => "authentication_error",
        QlaudErrorKind.PaymentRequired => "billing_error",
        QlaudErrorKind.Permission => "permission_error",
        QlaudErrorKind.NotFound => "not_found_error",
        QlaudErrorKind.PayloadTooLarge => "request_too_large",
        QlaudErrorKind.RateLimited => "rate_limit_error",
        QlaudErrorKind.Unavailable => "overloaded_error",
        QlaudErrorKind.Timeout => "timeout_error",
        _ => "api_error",
    };

    /// <summary>
    /// The error kind of an error an Anthropic upstream reported (in a body or a stream <c>error</c> event).
    /// </summary>
    /// <remarks>Failures of the gateway's own upstream account (authentication, permission, billing) are upstream errors, not
    /// the caller's; a request the upstream finds invalid or too large is the caller's invalid request.</remarks>
    internal static QlaudErrorKind KindOfUpstreamError(string? type) => type switch
    {
        "invalid_request_error" or "request_too_large" => QlaudErrorKind.InvalidRequest,
        "not_found_error" => QlaudErrorKind.NotFound,
        "rate_limit_error" => QlaudErrorKind.RateLimited,
        "overloaded_error" => QlaudErrorKind.Unavailable,
        "timeout_error" => QlaudErrorKind.Timeout,
        _ => QlaudErrorKind.UpstreamError,
    };

    /// <summary>The exception for an upstream error envelope (<c>{"type":"error","error":{…}}</c>).</summary>
    internal static DialectException UpstreamError(JsonElement envelope)
    {
        string? type = null;
        string message = "The upstream reported an error.";
        if (envelope.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
        {
            if (error.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String)
            {
                type = t.GetString();
            }

            if (error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
            {
                message = m.GetString()!;
            }
        }

        return new DialectException(KindOfUpstreamError(type), message);
    }
}
