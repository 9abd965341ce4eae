using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Catalog;
using Qlaud.Dialects;
using Qlaud.Metering;
using Qlaud.Providers;
using Qlaud.Routing;

namespace Qlaud.Forwarding;

/// <summary>
/// Forwards a wire chat request: routes the model (and its fallback <c>models</c> and <c>provider</c> preferences), runs the
/// attempt policy over the candidate routes, and relays the answer. Same dialect on both sides is passthrough (raw body, only
/// <c>model</c> rewritten and Qlaud's routing fields removed, upstream bytes relayed as they arrive); a different dialect is
/// translated through the canonical model. An embeddings request (<see cref="InboundChat.Embeddings"/>) takes the same path to
/// an embedding model's routes: reserved on its input estimate, passed through to <c>/embeddings</c>, settled on its usage.
/// </summary>
/// <remarks>
/// An attempt may be retried or move to the next route only before anything was written to the client: a retryable status
/// (408, 409, 429, 5xx), a transport failure, a timeout before the first byte, or an answer that broke off before its first
/// byte was relayed. A status that means "this route cannot serve this request" (context too long, no tools) moves on too.
/// Any other upstream 4xx reaches the client at once. Once a stream started, a failure ends it with an error event in the
/// client's dialect and is never retried.
/// </remarks>
internal sealed partial class ChatForwarder
{
    /// <summary>The largest non-streamed upstream body read into memory (an error or a whole completion).</summary>
    private const int MaxBufferedBody = 64 * 1024 * 1024;

    private readonly Router _router;
    private readonly UpstreamClient _upstream;
    private readonly AttemptPolicy _policy;
    private readonly ISpendGuard _spend;
    private readonly Security.ThinkingSignatures _signatures;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    private readonly bool _metered;
    private readonly bool _autoPromptCache;

    /// <summary><c>Qlaud:Limits:MaxEventBytes</c>: the largest upstream event the relay buffers.</summary>
    private readonly int _maxEventBytes;

    public ChatForwarder(Router router, UpstreamClient upstream, AttemptPolicy policy, ISpendGuard spend, Security.ThinkingSignatures signatures, IOptions<QlaudOptions> options, ILogger<ChatForwarder> logger)
    {
        _signatures = signatures;
        _metered = options.Value.Metering.Enabled;
        _autoPromptCache = options.Value.Routing.AutoPromptCache;
        _maxEventBytes = options.Value.Limits.MaxEventBytes;
        _router = router;
        _upstream = upstream;
        _policy = policy;
        _spend = spend;
        _time = policy.Health.Time;
        _logger = logger;
    }

    public Router Router => _router;

    /// <summary>Forwards <paramref name="inbound"/> and writes the answer to <paramref name="sink"/>.</summary>
    public async ValueTask<ForwardOutcome> ForwardAsync(InboundChat inbound, ResponseSink sink, CancellationToken cancellationToken)
    {
        var traits = inbound.Embeddings
            ? RequestTraits.ForEmbeddings(SpendEstimator.EstimateInputTokens(inbound.Body.Length))
            : RequestTraits.FromWire(inbound.Body.Length, inbound.Info);
        var selection = _router.Select(inbound.Info.Model, inbound.Routing, traits);
        if (selection.Error is { } routingError)
        {
            return new ForwardOutcome(routingError, false, null, null, 0);
        }

        // Before the attempts: the candidates are known and nothing was sent. The worst case is held against the key's cap
        // and the wallet; a refusal (402, 429) means no upstream request at all.
        if (!_metered)
        {
            var unmetered = new ForwardScope(this, inbound, sink);
            var result = await _policy.RunAsync(unmetered, selection.Candidates, static (s, ct) => s.Forwarder.AttemptAsync(s, ct), cancellationToken).ConfigureAwait(false);
            return result.Completed ? unmetered.Outcome : Failed(sink, result);
        }

        var (call, refusal) = await MeteredCall.ReserveAsync(_spend, inbound.Caller, selection.Candidates, _router.Catalog,
            SpendEstimator.EstimateInputTokens(inbound.Body.Span, inbound.Info, selection.Candidates), inbound.Info.MaxTokens, inbound.RequestId, inbound.Caller.EndUserId, cancellationToken).ConfigureAwait(false);
        if (call is null)
        {
            return new ForwardOutcome(refusal, false, null, null, 0);
        }

        // From here every exit settles or releases the reservation (MeteredCall's table), exceptions included.
        call.BatchId = inbound.BatchId;
        var scope = new ForwardScope(this, inbound, sink) { Meter = call };
        var end = CallEnd.Faulted;
        try
        {
            var summary = await _policy.RunAsync(scope, selection.Candidates, static (s, ct) => s.Forwarder.AttemptAsync(s, ct), cancellationToken).ConfigureAwait(false);
            var outcome = summary.Completed ? scope.Outcome : Failed(sink, summary);

            // The client's answer is ended first, so settling is not part of its wait.
            if (outcome.ResponseWritten)
            {
                await sink.CompleteAsync().ConfigureAwait(false);
            }

            end = CallEnd.Completed;
            return outcome;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away (or the host stops): what the provider reported or generated is still charged.
            end = CallEnd.Cancelled;
            throw;
        }
        finally
        {
            if (scope.Stream is { } relayed)
            {
                call.ReportUsage(relayed.Usage);
                call.GeneratedOutputTokens = relayed.EventsRelayed;
            }

            call.Close(end);
        }
    }

    private static ForwardOutcome Failed(ResponseSink sink, in AttemptSummary summary)
    {
        if (!sink.HasStarted)
        {
            sink.SetHeader("x-qlaud-attempts", summary.Attempts.ToString(CultureInfo.InvariantCulture));
            if (summary.RetryAfter is { } retryAfter && summary.Error!.Kind == QlaudErrorKind.RateLimited)
            {
                sink.SetHeader("retry-after", Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture));
            }
        }

        return new ForwardOutcome(summary.Error, false, null, null, summary.Attempts);
    }

    private ValueTask<AttemptResult> AttemptAsync(ForwardScope scope, CancellationToken cancellationToken)
        => scope.Inbound.Embeddings || scope.Route.Provider.Dialect == scope.Inbound.Surface.Name
            ? PassthroughAsync(scope, cancellationToken)
            : TranslateAsync(scope, cancellationToken);

    private async ValueTask<AttemptResult> PassthroughAsync(ForwardScope scope, CancellationToken cancellationToken)
    {
        var inbound = scope.Inbound;
        var route = scope.Route;
        var sink = scope.Sink;
        bool anthropic = inbound.Surface.Name == "anthropic";
        bool embeddings = inbound.Embeddings;
        using var body = new PooledBufferWriter(inbound.Body.Length + 64);
        WireRequestScanner.Rewrite(inbound.Body.Span, inbound.Info, route.UpstreamModelJson, forceIncludeUsage: !anthropic && !embeddings && inbound.Info.Stream, body);

        using var deadline = new UpstreamDeadline(_time, cancellationToken);
        scope.MarkSent();
        using var result = embeddings
            ? await _upstream.SendEmbeddingsAsync(route, body.WrittenMemory, deadline).ConfigureAwait(false)
            : await _upstream.SendChatAsync(route, body.WrittenMemory, inbound.Headers, countTokens: false, deadline).ConfigureAwait(false);
        if (result.Failure is { } failure)
        {
            return AttemptResult.Retry(new QlaudError(failure.Kind, failure.Message), failure.ErrorType);
        }

        var response = result.Response!;
        int status = (int)response.StatusCode;
        string contentType = response.Content.Headers.ContentType?.ToString() ?? "application/json";
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        if (status >= 400)
        {
            using var errorBody = new PooledBufferWriter();
            if (await ReadWholeAsync(stream, errorBody, scope, deadline, route).ConfigureAwait(false) is { } broken)
            {
                return broken;
            }

            if (UpstreamStatus.Judge(route, status, errorBody.WrittenSpan, response, scope.HasMoreCandidates, _time) is { } judged)
            {
                return judged;
            }

            // The upstream's own error body reaches the client intact, with its status.
            var error = UpstreamStatus.KindError(route, status);
            scope.Meter?.ErrorRelayed();
            StartResponse(sink, status, contentType, route, scope.Attempts, errorBody.WrittenCount);
            await WriteAndFlushAsync(sink.Writer, errorBody.WrittenMemory, cancellationToken).ConfigureAwait(false);
            scope.Outcome = new ForwardOutcome(error, true, route, null, scope.Attempts);
            return AttemptResult.Answered(error, UpstreamStatus.StatusText(status));
        }

        if (embeddings || !inbound.Info.Stream || !contentType.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            using var whole = new PooledBufferWriter(16 * 1024);
            if (await ReadWholeAsync(stream, whole, scope, deadline, route).ConfigureAwait(false) is { } broken)
            {
                return broken;
            }

            var usage = UsageReader.FromResponseBody(whole.WrittenSpan, anthropic);
            scope.SetUsage(usage);
            StartResponse(sink, status, contentType, route, scope.Attempts, whole.WrittenCount);
            await WriteAndFlushAsync(sink.Writer, whole.WrittenMemory, cancellationToken).ConfigureAwait(false);
            scope.Meter?.Delivered();
            scope.Outcome = new ForwardOutcome(null, true, route, usage, scope.Attempts);
            return AttemptResult.Success();
        }

        PassthroughInspector inspector = anthropic ? new AnthropicPassthroughInspector() : new OpenAIPassthroughInspector(hideUsageChunk: !inbound.Info.ClientIncludeUsage);
        var (end, notStarted) = await RelayStreamAsync(stream, status, inspector, scope, deadline, cancellationToken).ConfigureAwait(false);
        if (notStarted is { } beforeFirstByte)
        {
            return beforeFirstByte;
        }

        scope.SetUsage(inspector.Usage);

        if (end == PumpEnd.EventTooLarge || (!inspector.Completed && inspector.UpstreamError is null))
        {
            // The upstream closed or stalled without its end event, or sent an event past the limit: tell the client in its own
            // dialect instead of ending cleanly.
            var truncated = Truncated(route, end);
            await WriteStreamErrorAsync(inbound.Surface, inbound.Info.Model ?? route.ModelId, truncated, sink.Writer, cancellationToken).ConfigureAwait(false);
            scope.Outcome = new ForwardOutcome(truncated, true, route, inspector.Usage, scope.Attempts);
            return AttemptResult.Broken(truncated, end == PumpEnd.IdleTimeout ? "idle_timeout" : truncated.Code!);
        }

        if (inspector.UpstreamError is { } message)
        {
            var streamError = new QlaudError(QlaudErrorKind.UpstreamError, message);
            scope.Outcome = new ForwardOutcome(streamError, true, route, inspector.Usage, scope.Attempts);
            return AttemptResult.Broken(streamError, "stream_error");
        }

        scope.Outcome = new ForwardOutcome(null, true, route, inspector.Usage, scope.Attempts);
        return AttemptResult.Success();
    }

    private QlaudError Truncated(CatalogRoute route, PumpEnd end)
    {
        if (end != PumpEnd.Completed)
        {
            Log.StreamBroken(_logger, route.Name, end switch { PumpEnd.IdleTimeout => "stalled", PumpEnd.EventTooLarge => "sent an oversized event", _ => "broke" });
        }

        return end switch
        {
            PumpEnd.IdleTimeout => new QlaudError(QlaudErrorKind.Timeout,
                $"The provider '{route.Provider.Name}' sent nothing for {route.Provider.IdleTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s; the stream was ended.", "stream_timeout"),
            PumpEnd.EventTooLarge => new QlaudError(QlaudErrorKind.UpstreamError,
                $"The provider '{route.Provider.Name}' sent a stream event larger than {_maxEventBytes} bytes (Qlaud:Limits:MaxEventBytes); the stream was ended.", "event_too_large"),
            _ => new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' ended the stream before it was complete.", "stream_truncated"),
        };
    }

    /// <summary>
    /// Reads a whole upstream body with the attempt's deadline (first byte, then idle between reads). A body that stalls or
    /// breaks off comes back as a retryable result: nothing of it reached the client yet.
    /// </summary>
    internal static async ValueTask<AttemptResult?> ReadWholeAsync(Stream stream, PooledBufferWriter into, AttemptScope scope, UpstreamDeadline deadline, CatalogRoute route)
    {
        try
        {
            while (true)
            {
                var memory = into.GetMemory(4096);
                int read = await stream.ReadAsync(memory, deadline.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return null;
                }

                scope.MarkFirstByte();
                into.Advance(read);
                if (into.WrittenCount > MaxBufferedBody)
                {
                    return AttemptResult.Retry(new QlaudError(QlaudErrorKind.UpstreamError,
                        $"The provider '{route.Provider.Name}' answered with a body larger than {MaxBufferedBody / (1024 * 1024)} MiB."), "body_too_large");
                }

                deadline.Arm(route.Provider.IdleTimeout);
            }
        }
        catch (OperationCanceledException) when (deadline.TimedOut)
        {
            return AttemptResult.Retry(new QlaudError(QlaudErrorKind.Timeout, $"The provider '{route.Provider.Name}' stopped sending its answer."), "timeout");
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException && !deadline.CallerCancelled)
        {
            return AttemptResult.Retry(new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' broke off its answer."), "connection_error");
        }
    }

    /// <summary>
    /// Relays an upstream stream through <paramref name="handler"/>: its first bytes are read before anything is committed
    /// (an upstream that stalls or breaks off now is still retryable, returned as <c>NotStarted</c>); then the client's
    /// response starts and the events are pumped as they arrive.
    /// </summary>
    private static async ValueTask<(PumpEnd End, AttemptResult? NotStarted)> RelayStreamAsync(Stream upstream, int status, SseEventHandler handler,
        ForwardScope scope, UpstreamDeadline deadline, CancellationToken cancellationToken)
    {
        var route = scope.Route;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var (filled, firstFailure) = await ReadFirstAsync(upstream, buffer, deadline, route).ConfigureAwait(false);
        if (firstFailure is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return (default, firstFailure);
        }

        scope.MarkStreamStarted();
        StartResponse(scope.Sink, status, "text/event-stream", route, scope.Attempts);
        scope.Sink.SetHeader("cache-control", "no-cache");
        scope.Stream = handler;
        var end = await PumpAsync(upstream, buffer, filled, scope.Sink.Writer, handler, deadline, route.Provider.IdleTimeout, scope.Forwarder._maxEventBytes, cancellationToken).ConfigureAwait(false);
        return (end, null);
    }

    /// <summary>Reads the first bytes of a stream under the first-byte deadline, before anything is sent to the client.</summary>
    private static async ValueTask<(int Read, AttemptResult? Failure)> ReadFirstAsync(Stream stream, byte[] buffer, UpstreamDeadline deadline, CatalogRoute route)
    {
        try
        {
            int read = await stream.ReadAsync(buffer, deadline.Token).ConfigureAwait(false);
            return read > 0
                ? (read, null)
                : (0, AttemptResult.Retry(new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' ended the stream before sending anything."), "stream_truncated"));
        }
        catch (OperationCanceledException) when (deadline.TimedOut)
        {
            return (0, AttemptResult.Retry(new QlaudError(QlaudErrorKind.Timeout,
                $"The provider '{route.Provider.Name}' did not start its stream within {route.Provider.Timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s."), "timeout"));
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException && !deadline.CallerCancelled)
        {
            return (0, AttemptResult.Retry(new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' broke off its stream before sending anything."), "connection_error"));
        }
    }

    /// <summary>
    /// Pumps server-sent events from <paramref name="upstream"/> through <paramref name="handler"/> to <paramref name="client"/> as
    /// they arrive, one flush per read, starting with the <paramref name="filled"/> bytes already in <paramref name="buffer"/>
    /// (rented from the shared pool; the pump returns it). Every read must arrive within <paramref name="idleTimeout"/>. The
    /// buffer holds one incomplete event at a time and grows with it up to <paramref name="maxEventBytes"/>; an event that
    /// grows past that ends the pump (<see cref="PumpEnd.EventTooLarge"/>) instead of the buffer growing without bound.
    /// </summary>
    /// <returns>How the upstream stream ended; the handler then decides how the client's stream ends.</returns>
    internal static async ValueTask<PumpEnd> PumpAsync(Stream upstream, byte[] buffer, int filled, PipeWriter client, SseEventHandler handler,
        UpstreamDeadline deadline, TimeSpan idleTimeout, int maxEventBytes, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                if (filled > 0)
                {
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

                if (filled >= maxEventBytes)
                {
                    // What is left is the start of one event already past the limit: relayed so far, and no further.
                    await client.FlushAsync(cancellationToken).ConfigureAwait(false);
                    return PumpEnd.EventTooLarge;
                }

                if (filled == buffer.Length)
                {
                    // One event larger than the buffer: grow, keeping what was read.
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length * 2L, maxEventBytes));
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read;
                try
                {
                    deadline.Arm(idleTimeout);
                    read = await upstream.ReadAsync(buffer.AsMemory(filled), deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (deadline.TimedOut)
                {
                    // The upstream stopped sending mid-stream: a value; the caller ends the client's stream with an error event.
                    await client.FlushAsync(cancellationToken).ConfigureAwait(false);
                    return PumpEnd.IdleTimeout;
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                {
                    // The upstream reset the connection: a value, not an exception.
                    await client.FlushAsync(cancellationToken).ConfigureAwait(false);
                    return PumpEnd.Broken;
                }

                if (read == 0)
                {
                    if (filled > 0)
                    {
                        // A last event without its blank line: still the upstream's bytes, still the client's.
                        handler.HandleAndCount(buffer.AsSpan(0, filled), client);

                        await client.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }

                    return PumpEnd.Completed;
                }

                filled += read;
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

            wrote |= handler.HandleAndCount(data.Slice(consumed, end), client);

            consumed += end;
        }
    }

    private static void StartResponse(ResponseSink sink, int status, string contentType, CatalogRoute route, int attempts, long? contentLength = null)
    {
        sink.Start(status, contentType, contentLength);
        sink.SetHeader("x-qlaud-route", route.Name);
        sink.SetHeader("x-qlaud-attempts", attempts.ToString(CultureInfo.InvariantCulture));
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

    /// <summary>How an upstream stream ended.</summary>
    internal enum PumpEnd
    {
        /// <summary>The upstream closed the stream (whether its end event came is the handler's to judge).</summary>
        Completed,

        /// <summary>The connection broke mid-stream.</summary>
        Broken,

        /// <summary>The upstream sent nothing for the idle timeout.</summary>
        IdleTimeout,

        /// <summary>One upstream event grew past <c>Qlaud:Limits:MaxEventBytes</c>; the rest of the stream was not read.</summary>
        EventTooLarge,
    }

    /// <summary>One wire request's run over its routes: the request, where the answer goes, and how it ended.</summary>
    private sealed class ForwardScope(ChatForwarder forwarder, InboundChat inbound, ResponseSink sink) : AttemptScope
    {
        public ChatForwarder Forwarder { get; } = forwarder;

        public InboundChat Inbound { get; } = inbound;

        public ResponseSink Sink { get; } = sink;

        public ForwardOutcome Outcome { get; set; }

        /// <summary>The handler of the stream relayed to the client, once one started.</summary>
        public SseEventHandler? Stream { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(2, LogLevel.Warning, "The upstream stream of route {Route} {What} mid-stream")]
        public static partial void StreamBroken(ILogger logger, string route, string what);
    }
}
