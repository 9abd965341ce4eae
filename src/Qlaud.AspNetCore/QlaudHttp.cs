using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Qlaud.Dialects;
using Qlaud.Forwarding;

namespace Qlaud.AspNetCore;

/// <summary>Shared pieces of the /v1 handlers: the presented key, body reading, error writing.</summary>
internal static class QlaudHttp
{
    /// <summary>The largest request body accepted (images in base64 make chat bodies large).</summary>
    public const int MaxRequestBody = 32 * 1024 * 1024;

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

    /// <summary>Reads the whole request body into a pooled buffer, or produces a 400/413 error.</summary>
    public static async ValueTask<(PooledBufferWriter? Body, QlaudError? Error)> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var body = new PooledBufferWriter(request.ContentLength is > 0 and < MaxRequestBody ? (int)request.ContentLength + 1 : 16 * 1024);
        if (!await body.ReadFromAsync(request.Body, MaxRequestBody, cancellationToken).ConfigureAwait(false))
        {
            body.Dispose();
            return (null, new QlaudError(QlaudErrorKind.InvalidRequest, $"The request body is larger than {MaxRequestBody / (1024 * 1024)} MiB.", "request_too_large"));
        }

        if (body.WrittenCount == 0)
        {
            body.Dispose();
            return (null, new QlaudError(QlaudErrorKind.InvalidRequest, "The request body is empty; send a JSON object."));
        }

        return (body, null);
    }

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
