namespace Qlaud.Routing;

/// <summary>How one attempt on one route ended, as the attempt policy sees it.</summary>
internal enum AttemptStatus : byte
{
    /// <summary>The caller received an answer from this route (a success, an upstream error it gets as is, or a stream that failed after it started).</summary>
    Completed,

    /// <summary>A retryable failure before anything reached the caller: retry the route, then move on.</summary>
    Retryable,

    /// <summary>This route cannot serve this request (no tool support, context too long): move on at once, the route is healthy.</summary>
    Unsuitable,
}

/// <summary>The outcome of one attempt: a value, so expected failures never travel as exceptions.</summary>
internal readonly struct AttemptResult
{
    private AttemptResult(AttemptStatus status, QlaudError? error, string? errorType, TimeSpan? retryAfter, bool healthFailure, bool open, bool moveOn = false)
    {
        MoveOn = moveOn;
        Status = status;
        Error = error;
        ErrorType = errorType;
        RetryAfter = retryAfter;
        HealthFailure = healthFailure;
        Open = open;
    }

    public AttemptStatus Status { get; }

    /// <summary>What went wrong; null for a success.</summary>
    public QlaudError? Error { get; }

    /// <summary>The <c>error.type</c> of the attempt's span: an HTTP status, <c>timeout</c>, <c>connection_error</c>, …</summary>
    public string? ErrorType { get; }

    /// <summary>The upstream's <c>retry-after</c>, when it sent one.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>Whether the failure counts against the route's health (circuit breaker): 5xx, timeouts, connection errors, broken streams.</summary>
    public bool HealthFailure { get; }

    /// <summary>A retryable failure not worth waiting for on this route (its <c>retry-after</c> is longer than the longest wait): move on.</summary>
    public bool MoveOn { get; }

    /// <summary>The answer is still being delivered after the attempt returned (an in-process stream); the caller finishes it.</summary>
    public bool Open { get; }

    /// <summary>The route answered and the caller got it.</summary>
    public static AttemptResult Success(bool open = false) => new(AttemptStatus.Completed, null, null, null, false, open);

    /// <summary>The route answered with an error the caller receives as is (for example a 400); the route is healthy.</summary>
    public static AttemptResult Answered(QlaudError error, string errorType) => new(AttemptStatus.Completed, error, errorType, null, false, false);

    /// <summary>The route failed after the answer had started (a cut or stalled stream): no retry, but a health failure.</summary>
    public static AttemptResult Broken(QlaudError error, string errorType) => new(AttemptStatus.Completed, error, errorType, null, true, false);

    /// <summary>A retryable failure before anything reached the caller.</summary>
    public static AttemptResult Retry(QlaudError error, string errorType, TimeSpan? retryAfter = null, bool healthFailure = true)
        => new(AttemptStatus.Retryable, error, errorType, retryAfter, healthFailure, false);

    /// <summary>This failure, marked to move on to the next route instead of retrying here.</summary>
    public AttemptResult MovingOn() => new(Status, Error, ErrorType, RetryAfter, HealthFailure, Open, moveOn: true);

    /// <summary>The route cannot serve this request; another route may.</summary>
    public static AttemptResult Unsuitable(QlaudError error)
        => new(AttemptStatus.Unsuitable, error with { Kind = QlaudErrorKind.InvalidRequest, Code = RouteSelection.UnsuitableCode, UpstreamStatus = null, UpstreamType = null, UpstreamDialect = null },
            "unsuitable_route", null, false, false);
}

/// <summary>How a run over the candidate routes ended.</summary>
/// <param name="Completed">Whether a route answered (the caller's scope holds the answer).</param>
/// <param name="Route">The route that answered.</param>
/// <param name="Attempts">Upstream attempts made, retries included.</param>
/// <param name="Error">Why no route answered; null when <paramref name="Completed"/>.</param>
/// <param name="RetryAfter">The last <c>retry-after</c> an upstream sent, for the caller's own back-off.</param>
internal readonly record struct AttemptSummary(bool Completed, Catalog.CatalogRoute? Route, int Attempts, QlaudError? Error, TimeSpan? RetryAfter);
