using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Qlaud.Catalog;
using Qlaud.Dialects;
using Qlaud.Metering;
using Qlaud.Providers;
using Qlaud.Routing;

namespace Qlaud.Forwarding;

/// <summary>
/// Forwards a wire chat request: routes the model, tries the candidate routes in order, and relays the answer.
/// Same dialect on both sides is passthrough (raw body, only <c>model</c> rewritten, upstream bytes relayed as they
/// arrive); a different dialect is translated through the canonical model.
/// </summary>
/// <remarks>
/// Fallback to the next route happens only before anything was written to the client: a retryable status
/// (408, 429, 5xx) or a transport failure. An upstream 4xx that is not retryable reaches the client intact.
/// </remarks>
internal sealed partial class ChatForwarder
{
    /// <summary>The largest non-streamed upstream body read into memory (an error or a whole completion).</summary>
    private const int MaxBufferedBody = 64 * 1024 * 1024;

    private readonly Router _router;
    private readonly UpstreamClient _upstream;
    private readonly ILogger _logger;

    public ChatForwarder(Router router, UpstreamClient upstream, ILogger<ChatForwarder> logger)
    {
        _router = router;
        _upstream = upstream;
        _logger = logger;
    }

    public Router Router => _router;

    /// <summary>Forwards <paramref name="inbound"/> and writes the answer to <paramref name="sink"/>.</summary>
    public async ValueTask<ForwardOutcome> ForwardAsync(InboundChat inbound, ResponseSink sink, CancellationToken cancellationToken)
    {
        var plan = _router.Resolve(inbound.Info.Model);
        if (plan.Error is { } routingError)
        {
            return new ForwardOutcome(routingError, false, null, null, 0);
        }

        QlaudError? lastError = null;
        var candidates = plan.Candidates;
        for (int i = 0; i < candidates.Count; i++)
        {
            var route = candidates[i];
            bool isLast = i == candidates.Count - 1;
            var attempt = route.Provider.Dialect == inbound.Surface.Name
                ? await PassthroughAsync(inbound, route, sink, isLast, i + 1, cancellationToken).ConfigureAwait(false)
                : await TranslateAsync(inbound, route, sink, isLast, i + 1, cancellationToken).ConfigureAwait(false);
            if (attempt.Outcome is { } outcome)
            {
                return outcome;
            }

            lastError = attempt.RetryableError;
            Log.AttemptFailed(_logger, route.Name, i + 1, lastError!.Message);
        }

        return new ForwardOutcome(lastError, false, null, null, candidates.Count);
    }

    private async ValueTask<Attempt> PassthroughAsync(InboundChat inbound, CatalogRoute route, ResponseSink sink, bool isLast, int attemptNumber, CancellationToken cancellationToken)
    {
        bool anthropic = inbound.Surface.Name == "anthropic";
        using var body = new PooledBufferWriter(inbound.Body.Length + 64);
        WireRequestScanner.Rewrite(inbound.Body.Span, inbound.Info, route.UpstreamModelJson, forceIncludeUsage: !anthropic && inbound.Info.Stream, body);

        using var result = await _upstream.SendChatAsync(route, body.WrittenMemory, inbound.Headers, countTokens: false, cancellationToken).ConfigureAwait(false);
        if (result.Failure is { } failure)
        {
            return Attempt.Retry(new QlaudError(failure.Kind, failure.Message));
        }

        var response = result.Response!;
        int status = (int)response.StatusCode;
        string contentType = response.Content.Headers.ContentType?.ToString() ?? "application/json";
        if (status >= 400)
        {
            using var errorBody = new PooledBufferWriter();
            await errorBody.ReadFromAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), MaxBufferedBody, cancellationToken).ConfigureAwait(false);
            var error = UpstreamStatusError(route, status);
            if (IsRetryable(status) && !isLast)
            {
                return Attempt.Retry(error);
            }

            // The upstream's own error body reaches the client intact, with its status.
            StartResponse(sink, status, contentType, route, attemptNumber);
            await WriteAndFlushAsync(sink.Writer, errorBody.WrittenMemory, cancellationToken).ConfigureAwait(false);
            return Attempt.Done(new ForwardOutcome(error, true, route, null, attemptNumber));
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        if (!inbound.Info.Stream || !contentType.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            using var whole = new PooledBufferWriter(16 * 1024);
            await whole.ReadFromAsync(stream, MaxBufferedBody, cancellationToken).ConfigureAwait(false);
            var usage = UsageReader.FromResponseBody(whole.WrittenSpan, anthropic);
            StartResponse(sink, status, contentType, route, attemptNumber);
            await WriteAndFlushAsync(sink.Writer, whole.WrittenMemory, cancellationToken).ConfigureAwait(false);
            return Attempt.Done(new ForwardOutcome(null, true, route, usage, attemptNumber));
        }

        StartResponse(sink, status, "text/event-stream", route, attemptNumber);
        sink.SetHeader("cache-control", "no-cache");
        PassthroughInspector inspector = anthropic ? new AnthropicPassthroughInspector() : new OpenAIPassthroughInspector(hideUsageChunk: !inbound.Info.ClientIncludeUsage);
        if (!await PumpAsync(stream, sink.Writer, inspector, cancellationToken).ConfigureAwait(false))
        {
            Log.StreamBroken(_logger, route.Name);
        }

        if (!inspector.Completed && inspector.UpstreamError is null)
        {
            // The upstream closed the stream without its end event: tell the client in its own dialect instead of ending cleanly.
            var truncated = new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' ended the stream before it was complete.", "stream_truncated");
            await WriteStreamErrorAsync(inbound.Surface, inbound.Info.Model ?? route.ModelId, truncated, sink.Writer, cancellationToken).ConfigureAwait(false);
            return Attempt.Done(new ForwardOutcome(truncated, true, route, inspector.Usage, attemptNumber));
        }

        var streamError = inspector.UpstreamError is { } message ? new QlaudError(QlaudErrorKind.UpstreamError, message) : null;
        return Attempt.Done(new ForwardOutcome(streamError, true, route, inspector.Usage, attemptNumber));
    }

    /// <summary>Pumps server-sent events from <paramref name="upstream"/> through <paramref name="handler"/> to <paramref name="client"/> as they arrive, one flush per read.</summary>
    /// <returns>False when the upstream connection broke mid-stream (the handler then decides how the client's stream ends).</returns>
    internal static async ValueTask<bool> PumpAsync(Stream upstream, PipeWriter client, SseEventHandler handler, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        int filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    // One event larger than the buffer: grow, keeping what was read.
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read;
                try
                {
                    read = await upstream.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                {
                    // The upstream reset the connection: a value, not an exception; the caller ends the client's stream with an error event.
                    await client.FlushAsync(cancellationToken).ConfigureAwait(false);
                    return false;
                }

                if (read == 0)
                {
                    if (filled > 0)
                    {
                        // A last event without its blank line: still the upstream's bytes, still the client's.
                        handler.Handle(buffer.AsSpan(0, filled), client);

                        await client.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }

                    return true;
                }

                filled += read;
                int consumed = HandleCompleteEvents(buffer.AsSpan(0, filled), client, handler, out bool wrote);
                if (consumed > 0)
                {
                    buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                    filled -= consumed;
                }

                if (wrote)
                {
                    await client.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int HandleCompleteEvents(ReadOnlySpan<byte> data, PipeWriter client, SseEventHandler handler, out bool wrote)
    {
        wrote = false;
        int consumed = 0;
        while (true)
        {
            int end = SseEvent.FindEventEnd(data[consumed..]);
            if (end < 0)
            {
                return consumed;
            }

            wrote |= handler.Handle(data.Slice(consumed, end), client);

            consumed += end;
        }
    }

    private static void StartResponse(ResponseSink sink, int status, string contentType, CatalogRoute route, int attempts)
    {
        sink.Start(status, contentType);
        sink.SetHeader("x-qlaud-route", route.Name);
        sink.SetHeader("x-qlaud-attempts", attempts.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async ValueTask WriteAndFlushAsync(PipeWriter writer, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await writer.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async ValueTask WriteStreamErrorAsync(IChatDialect surface, string model, QlaudError error, PipeWriter writer, CancellationToken cancellationToken)
    {
        var encoder = surface.CreateStreamEncoder(model, "qlaud-error");
        encoder.Fail(error, writer);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    internal static bool IsRetryable(int status) => status is 408 or 409 or 429 or >= 500;

    internal static QlaudError UpstreamStatusError(CatalogRoute route, int status) => new(
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

    private readonly record struct Attempt(ForwardOutcome? Outcome, QlaudError? RetryableError)
    {
        public static Attempt Done(ForwardOutcome outcome) => new(outcome, null);

        public static Attempt Retry(QlaudError error) => new(null, error);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Route {Route} failed on attempt {Attempt}: {Reason}")]
        public static partial void AttemptFailed(ILogger logger, string route, int attempt, string reason);

        [LoggerMessage(2, LogLevel.Warning, "The upstream connection of route {Route} broke mid-stream")]
        public static partial void StreamBroken(ILogger logger, string route);
    }
}
