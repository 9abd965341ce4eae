using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Qlaud.Configuration;
using Qlaud.Dialects;
using Qlaud.Forwarding;

namespace Qlaud.AspNetCore;

/// <summary>Shared pieces of the /v1 handlers: the presented key, body reading, error writing.</summary>
internal static class QlaudHttp
{
    /// <summary>The key the request presents (<c>x-api-key</c>, else <c>Authorization: Bearer</c>), trimmed; empty when none.</summary>
    public static ReadOnlySpan<char> PresentedKey(IHeaderDictionary headers)
    {
        if (headers.TryGetValue("x-api-key", out StringValues apiKey) && !StringValues.IsNullOrEmpty(apiKey))
        {
            return apiKey.ToString().AsSpan().Trim();
        }

        if (headers.Authorization.ToString() is { Length: > 7 } authorization && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization.AsSpan(7).Trim();
        }

        return default;
    }

    /// <summary>The configuration key of the <c>/v1</c> body limit, named in the 413 message.</summary>
    public const string LimitKey = "Qlaud:Limits:MaxRequestBytes";

    /// <summary>Reads the whole request body into a pooled buffer, or produces the 400 (empty) or 413 (over <paramref name="maxBytes"/>) error.</summary>
    /// <remarks>A <c>Content-Length</c> over the limit is refused before anything is read. The server's own body limit
    /// (Kestrel's <c>MaxRequestBodySize</c>, 30 MB by default) is set just above <paramref name="maxBytes"/> for this request
    /// when it can still be changed, so the gateway's limit is the one that answers, in the surface's shape.</remarks>
    public static async ValueTask<(PooledBufferWriter? Body, QlaudError? Error)> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken, string? limitKey = null)
    {
        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes, limitKey));
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
        {
            sizeLimit.MaxRequestBodySize = maxBytes + 1L;
        }

        var body = new PooledBufferWriter(request.ContentLength is > 0 and var length && length < maxBytes ? (int)length + 1 : 16 * 1024);
        try
        {
            if (!await body.ReadFromAsync(request.Body, maxBytes, cancellationToken).ConfigureAwait(false))
            {
                body.Dispose();
                return (null, TooLarge(maxBytes, limitKey));
            }
        }
        catch (BadHttpRequestException ex)
        {
            // The server refused the body while reading it: a chunked body is counted as it arrives, ahead of this read, so
            // its limit can be the one that trips; a malformed chunk is the client's bad request.
            body.Dispose();
            return (null, ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? TooLarge(maxBytes, limitKey)
                : new QlaudError(QlaudErrorKind.InvalidRequest, "The request body could not be read: " + ex.Message));
        }

        if (body.WrittenCount == 0)
        {
            body.Dispose();
            return (null, new QlaudError(QlaudErrorKind.InvalidRequest, "The request body is empty; send a JSON object."));
        }

        return (body, null);
    }

    private static QlaudError TooLarge(int maxBytes, string? limitKey) => new(QlaudErrorKind.PayloadTooLarge,
        (maxBytes % (1024 * 1024) == 0
            ? $"The request body is larger than {maxBytes / (1024 * 1024)} MiB ({maxBytes} bytes), the most this endpoint accepts"
            : $"The request body is larger than {maxBytes} bytes, the most this endpoint accepts")
        + (limitKey is null ? "." : $" ({limitKey})."),
        "request_too_large");

    /// <summary>Writes <paramref name="error"/> in <paramref name="dialect"/>'s envelope with its status, unless the response already started.</summary>
    public static async Task WriteErrorAsync(HttpContext context, IChatDialect dialect, QlaudError error)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }

        response.StatusCode = error.StatusCode;
        response.ContentType = "application/json";
        if (error.Kind == QlaudErrorKind.RateLimited && !response.Headers.ContainsKey("retry-after"))
        {
            // Whole seconds, rounded up, at least 1 (RFC 9110 delay-seconds).
            double seconds = Math.Max(1, Math.Ceiling(error.RetryAfter?.TotalSeconds ?? 1));
            response.Headers["retry-after"] = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        using (var writer = new Utf8JsonWriter(response.BodyWriter))
        {
            dialect.WriteError(writer, error);
        }

        await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }
}
