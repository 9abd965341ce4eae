using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Qlaud.Catalog;
using Qlaud.Routing;

namespace Qlaud.Forwarding;

/// <summary>What an upstream error status means for routing: retry, move on to a route that can serve, or give it to the caller.</summary>
internal static class UpstreamStatus
{
    /// <summary>Phrases of upstream error messages that mean "this route cannot serve this request" rather than "this request is wrong".</summary>
    private static readonly string[] UnsuitablePhrases =
    [
        "context_length_exceeded", "context length", "context window", "maximum context", "too many tokens", "prompt is too long",
        "input is too long", "tokens exceeds", "exceeds the maximum", "request too large",
        "does not support tools", "tools are not supported", "tool use is not supported", "tool calling is not supported",
        "does not support tool", "function calling is not supported", "does not support function", "tool_use is not supported",
    ];

    /// <summary>408, 409, 429 and 5xx are worth another try, here or on another route.</summary>
    public static bool IsRetryable(int status) => status is 408 or 409 or 429 or >= 500;

    /// <summary>Whether a failure with <paramref name="status"/> counts against the route's health: 408 and 5xx, not 409 or 429 (the route is up, just busy).</summary>
    public static bool IsHealthFailure(int status) => status is 408 or >= 500;

    /// <summary>A 400/413/422 whose message says the request is too long or uses tools the route lacks; another route may serve it.</summary>
    public static bool MeansUnsuitable(int status, ReadOnlySpan<byte> body)
    {
        if (status == 413)
        {
            return true;
        }

        if (status is not (400 or 422) || body.IsEmpty)
        {
            return false;
        }

        string text = Encoding.UTF8.GetString(body.Length > 8192 ? body[..8192] : body);
        foreach (var phrase in UnsuitablePhrases)
        {
            if (text.Contains(phrase, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The error kind for an upstream status, with a message naming the provider and the status.</summary>
    public static QlaudError KindError(CatalogRoute route, int status) => new(
        status switch
        {
            429 => QlaudErrorKind.RateLimited,
            408 or 504 => QlaudErrorKind.Timeout,
            503 => QlaudErrorKind.Unavailable,
            >= 500 or 401 or 403 => QlaudErrorKind.UpstreamError, // a bad provider key is the gateway's fault, not the caller's
            404 => QlaudErrorKind.NotFound,
            _ => QlaudErrorKind.InvalidRequest,
        },
        $"The provider '{route.Provider.Name}' answered {status}.");

    /// <summary>The error for an upstream status, with the upstream's own message appended when it has one; it keeps the
    /// upstream's identity (status, error type, code), which the client gets in its own dialect.</summary>
    public static QlaudError Error(CatalogRoute route, int status, ReadOnlySpan<byte> body)
    {
        var error = KindError(route, status);
        var (detail, type, code) = UpstreamErrorMessage.Read(body);
        string dialect = route.Provider.Dialect;
        return error with
        {
            Message = detail is null ? error.Message : $"{error.Message} {detail}",
            Code = dialect == "openai" ? code : null,
            UpstreamStatus = status,
            UpstreamType = type,
            UpstreamDialect = dialect,
        };
    }

    /// <summary>
    /// A provider's 401/403: the gateway's own key for that provider was refused. Never the caller's authentication error:
    /// a 502 naming the provider, a failure of the route (counted against its health), and the next route is tried.
    /// </summary>
    public static QlaudError ProviderAuthentication(CatalogRoute route, int status, ReadOnlySpan<byte> body)
    {
        var (detail, type, _) = UpstreamErrorMessage.Read(body);
        string what = type is null ? StatusText(status) : $"{StatusText(status)} {type}";
        return new QlaudError(QlaudErrorKind.UpstreamError,
            $"The provider '{route.Provider.Name}' rejected the gateway's credentials ({what}); check Qlaud:Providers:{route.Provider.Name}:ApiKey.{(detail is null ? "" : " " + detail)}",
            "provider_authentication_failed");
    }

    /// <summary>
    /// Judges an upstream error status: a retryable failure, a refused provider key (a failure of the route, moving on), a
    /// route that cannot serve this request (only when another candidate follows), or null when the caller receives the
    /// error as is.
    /// </summary>
    public static AttemptResult? Judge(CatalogRoute route, int status, ReadOnlySpan<byte> body, HttpResponseMessage response, bool hasMoreCandidates, TimeProvider time)
    {
        if (IsRetryable(status))
        {
            return AttemptResult.Retry(Error(route, status, body), StatusText(status), RetryAfter(response, time), IsHealthFailure(status));
        }

        if (status is 401 or 403)
        {
            // Retrying the same key is pointless: move on to the next route at once.
            return AttemptResult.Retry(ProviderAuthentication(route, status, body), StatusText(status), healthFailure: true).MovingOn();
        }

        if (hasMoreCandidates && MeansUnsuitable(status, body))
        {
            return AttemptResult.Unsuitable(Error(route, status, body));
        }

        return null;
    }

    /// <summary>
    /// The attempt's result for an upstream error status whose body was read, when the caller gets a <see cref="QlaudError"/>
    /// rather than the upstream's bytes (in-process calls): retried or moved on as <see cref="Judge"/> says, else answered with
    /// the upstream's error, which <paramref name="answered"/> returns.
    /// </summary>
    public static AttemptResult Answer(CatalogRoute route, int status, ReadOnlySpan<byte> body, HttpResponseMessage response, bool hasMoreCandidates,
        TimeProvider time, out QlaudError? answered)
    {
        if (Judge(route, status, body, response, hasMoreCandidates, time) is { } judged)
        {
            answered = null;
            return judged;
        }

        answered = Error(route, status, body);
        return AttemptResult.Answered(answered, StatusText(status));
    }

    /// <summary>The upstream's <c>retry-after-ms</c> or <c>retry-after</c> (seconds or an HTTP date), when it sent one.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        var headers = response.Headers;
        if (headers.TryGetValues("retry-after-ms", out var ms) && double.TryParse(First(ms), NumberStyles.Float, CultureInfo.InvariantCulture, out double milliseconds) && milliseconds >= 0)
        {
            return TimeSpan.FromMilliseconds(milliseconds);
        }

        if (headers.RetryAfter is RetryConditionHeaderValue retryAfter)
        {
            if (retryAfter.Delta is { } delta)
            {
                return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
            }

            if (retryAfter.Date is { } date)
            {
                var wait = date - time.GetUtcNow();
                return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
            }
        }

        return null;
    }

    /// <summary>The span's <c>error.type</c> for a status: its number as text, cached for the common ones.</summary>
    public static string StatusText(int status) => status switch
    {
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        408 => "408",
        409 => "409",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        529 => "529",
        _ => status.ToString(CultureInfo.InvariantCulture),
    };

    private static string? First(IEnumerable<string> values)
    {
        foreach (var value in values)
        {
            return value;
        }

        return null;
    }
}
