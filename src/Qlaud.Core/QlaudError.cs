namespace Qlaud;

/// <summary>The kinds of error Qlaud reports; each maps to one HTTP status and one error type per dialect.</summary>
public enum QlaudErrorKind
{
    /// <summary>400: the request is malformed or invalid.</summary>
    InvalidRequest,
    /// <summary>401: missing or unknown key.</summary>
    Authentication,
    /// <summary>402: over the key's spend cap or the wallet is empty.</summary>
    PaymentRequired,
    /// <summary>403: the key may not do this.</summary>
    Permission,
    /// <summary>404: unknown model or resource.</summary>
    NotFound,
    /// <summary>429: rate limited.</summary>
    RateLimited,
    /// <summary>500: a fault inside Qlaud.</summary>
    Internal,
    /// <summary>502: the upstream failed or answered with something unusable.</summary>
    UpstreamError,
    /// <summary>503: no route can serve the request now (unconfigured, overloaded).</summary>
    Unavailable,
    /// <summary>504: the upstream did not answer in time.</summary>
    Timeout,
    /// <summary>413: the request body is larger than the gateway accepts (<c>Qlaud:Limits:MaxRequestBytes</c>).</summary>
    PayloadTooLarge,
}

/// <summary>An error as Qlaud reports it on any surface.</summary>
/// <param name="Kind">What went wrong.</param>
/// <param name="Message">A message for the developer; never contains secrets.</param>
/// <param name="Code">An optional machine-readable code (OpenAI <c>error.code</c>), for example <c>model_not_found</c>.</param>
public sealed record QlaudError(QlaudErrorKind Kind, string Message, string? Code = null)
{
    /// <summary>For <see cref="QlaudErrorKind.RateLimited"/>: how long to wait before trying again (the HTTP surface sends it as <c>retry-after</c>).</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>The HTTP status an upstream answered with, when this error is an upstream's error answer (after retries and
    /// fallbacks were exhausted); null for Qlaud's own failures (connection refused, timeouts, no usable route).</summary>
    /// <remarks>The HTTP surface answers with this status (a 529 stays 529) and the upstream's error type in the client's
    /// dialect; <see cref="Kind"/> still says how to react to it.</remarks>
    public int? UpstreamStatus { get; init; }

    /// <summary>The upstream's own error type (for example <c>overloaded_error</c>), in <see cref="UpstreamDialect"/>.</summary>
    public string? UpstreamType { get; init; }

    /// <summary>The dialect of the upstream that answered with <see cref="UpstreamStatus"/>: <c>openai</c> or <c>anthropic</c>.</summary>
    public string? UpstreamDialect { get; init; }

    /// <summary>The HTTP status: <see cref="UpstreamStatus"/> when set, else the status for <see cref="Kind"/>.</summary>
    public int StatusCode => UpstreamStatus ?? Kind switch
    {
        QlaudErrorKind.InvalidRequest => 400,
        QlaudErrorKind.Authentication => 401,
        QlaudErrorKind.PaymentRequired => 402,
        QlaudErrorKind.Permission => 403,
        QlaudErrorKind.NotFound => 404,
        QlaudErrorKind.PayloadTooLarge => 413,
        QlaudErrorKind.RateLimited => 429,
        QlaudErrorKind.UpstreamError => 502,
        QlaudErrorKind.Unavailable => 503,
        QlaudErrorKind.Timeout => 504,
        _ => 500,
    };
}
