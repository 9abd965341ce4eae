using System.Text.Json;

namespace Qlaud.Dialects.OpenAI;

internal sealed partial class OpenAIDialect
{
    /// <inheritdoc />
    public void WriteError(Utf8JsonWriter writer, QlaudError error)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(error);
        WriteErrorBody(writer, error);
    }

    /// <summary>Writes <c>{"error":{"message","type","param","code"}}</c>.</summary>
    internal static void WriteErrorBody(Utf8JsonWriter writer, QlaudError error)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", error.Message);
        writer.WriteString("type", error.UpstreamStatus is { } status ? UpstreamErrorTypes.ForOpenAI(status, error.UpstreamType, error.UpstreamDialect) : ErrorType(error.Kind));
        writer.WriteNull("param");
        if ((error.Code ?? DefaultErrorCode(error.Kind)) is { } code)
        {
            writer.WriteString("code", code);
        }
        else
        {
            writer.WriteNull("code");
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>The <c>error.type</c> OpenAI sends for the status of <paramref name="kind"/>.</summary>
    /// <remarks>
    /// OpenAI answers a bad key (401) and an unknown model (404) with <c>invalid_request_error</c>, a refused region (403) with
    /// <c>request_forbidden</c>, an exhausted quota with <c>insufficient_quota</c> (Qlaud's 402), a request-rate limit with
    /// <c>requests</c>, a body over the size limit (413) with <c>invalid_request_error</c>, and its own faults (500, 503) with <c>server_error</c>; Qlaud's upstream failures (502, 504) use that too.
    /// </remarks>
    internal static string ErrorType(QlaudErrorKind kind) => kind switch
    {
        QlaudErrorKind.InvalidRequest or QlaudErrorKind.Authentication or QlaudErrorKind.NotFound or QlaudErrorKind.PayloadTooLarge => "invalid_request_error",
        QlaudErrorKind.PaymentRequired => "insufficient_quota",
        QlaudErrorKind.Permission => "request_forbidden",
        QlaudErrorKind.RateLimited => "requests",
        _ => "server_error",
    };

    /// <summary>The <c>error.code</c> OpenAI always sends for <paramref name="kind"/>, used when the error has no code of its own.</summary>
    internal static string? DefaultErrorCode(QlaudErrorKind kind) => kind switch
    {
        QlaudErrorKind.Authentication => "invalid_api_key",
        QlaudErrorKind.PaymentRequired => "insufficient_quota",
        QlaudErrorKind.RateLimited => "rate_limit_exceeded",
        _ => null,
    };

    /// <summary>The exception for an <c>error</c> object an upstream sent inside a body or a stream.</summary>
    internal static DialectException ReadUpstreamError(JsonElement error)
    {
        var message = error.TryGetProperty("message", out var messageValue) && messageValue.ValueKind == JsonValueKind.String
            ? messageValue.GetString()
            : null;
        var code = error.TryGetProperty("code", out var codeValue) && codeValue.ValueKind is JsonValueKind.String or JsonValueKind.Number
            ? codeValue.ToString()
            : null;
        message ??= error.GetRawText();
        return new DialectException(
            QlaudErrorKind.UpstreamError,
            code is null ? "The upstream reported an error: " + message : $"The upstream reported an error ({code}): {message}");
    }
}
