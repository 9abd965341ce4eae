using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Catalog;
using Qlaud.Dialects;
using Qlaud.Metering;

namespace Qlaud.Forwarding;

internal sealed partial class ChatForwarder
{
    /// <summary>Serves a request whose route speaks another dialect: decode to canonical, encode for the upstream, translate the answer back.</summary>
    private async ValueTask<Attempt> TranslateAsync(InboundChat inbound, CatalogRoute route, ResponseSink sink, bool isLast, int attemptNumber, CancellationToken cancellationToken)
    {
        CanonicalChatRequest canonical;
        try
        {
            canonical = inbound.Canonical ??= inbound.Surface.ReadRequest(inbound.Body.Span);
        }
        catch (DialectException ex)
        {
            return Attempt.Done(new ForwardOutcome(new QlaudError(ex.Kind, ex.Message), false, route, null, attemptNumber));
        }

        var upstreamDialect = DialectRegistry.Get(route.Provider.Dialect);
        using var body = new PooledBufferWriter(inbound.Body.Length + 256);
        using (var writer = new Utf8JsonWriter(body))
        {
            upstreamDialect.WriteRequest(writer, canonical, route.UpstreamModel);
        }

        using var result = await _upstream.SendChatAsync(route, body.WrittenMemory, inbound.Headers, countTokens: false, cancellationToken).ConfigureAwait(false);
        if (result.Failure is { } failure)
        {
            return Attempt.Retry(new QlaudError(failure.Kind, failure.Message));
        }

        var response = result.Response!;
        int status = (int)response.StatusCode;
        var upstreamStream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        string model = inbound.Info.Model ?? route.ModelId;
        if (status >= 400)
        {
            using var errorBody = new PooledBufferWriter();
            await errorBody.ReadFromAsync(upstreamStream, MaxBufferedBody, cancellationToken).ConfigureAwait(false);
            var statusError = UpstreamStatusError(route, status);
            if (IsRetryable(status) && !isLast)
            {
                return Attempt.Retry(statusError);
            }

            // Another dialect's error body would confuse the client's SDK: keep the status and message, re-wrap in the surface's envelope.
            var error = statusError with { Message = UpstreamErrorMessage.Extract(errorBody.WrittenSpan) is { } m ? $"{statusError.Message} {m}" : statusError.Message };
            StartResponse(sink, status, "application/json", route, attemptNumber);
            WriteJson(sink.Writer, (inbound.Surface, error), static (w, s) => s.Surface.WriteError(w, s.error));
            await sink.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            return Attempt.Done(new ForwardOutcome(error, true, route, null, attemptNumber));
        }

        string contentType = response.Content.Headers.ContentType?.MediaType ?? "";
        if (!canonical.Stream || !contentType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            using var whole = new PooledBufferWriter(16 * 1024);
            await whole.ReadFromAsync(upstreamStream, MaxBufferedBody, cancellationToken).ConfigureAwait(false);
            ChatResponse chat;
            try
            {
                chat = upstreamDialect.ReadResponse(whole.WrittenSpan);
            }
            catch (DialectException ex)
            {
                return UpstreamGarbage(route, attemptNumber, isLast, ex);
            }

            var usage = chat.Usage is { } u ? TokenUsage.From(u) : (TokenUsage?)null;
            StartResponse(sink, 200, "application/json", route, attemptNumber);
            WriteJson(sink.Writer, (inbound.Surface, chat, model), static (w, s) => s.Surface.WriteResponse(w, s.chat, s.model));
            await sink.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            return Attempt.Done(new ForwardOutcome(null, true, route, usage, attemptNumber));
        }

        StartResponse(sink, 200, "text/event-stream", route, attemptNumber);
        sink.SetHeader("cache-control", "no-cache");
        var translator = new TranslatingStreamHandler(upstreamDialect.CreateStreamDecoder(), CreateEncoder(inbound, model));
        if (!await PumpAsync(upstreamStream, sink.Writer, translator, cancellationToken).ConfigureAwait(false))
        {
            Log.StreamBroken(_logger, route.Name);
        }

        var outcomeError = translator.Finish(sink.Writer, route);
        await sink.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        return Attempt.Done(new ForwardOutcome(outcomeError, true, route, translator.Usage, attemptNumber));
    }

    private static IStreamEncoder CreateEncoder(InboundChat inbound, string model)
    {
        string id = (inbound.Surface.Name == "anthropic" ? "msg_" : "chatcmpl-") + Guid.NewGuid().ToString("N");
        return inbound.Surface is Dialects.OpenAI.OpenAIDialect openai
            ? openai.CreateStreamEncoder(model, id, includeUsage: inbound.Info.ClientIncludeUsage)
            : inbound.Surface.CreateStreamEncoder(model, id);
    }

    private static Attempt UpstreamGarbage(CatalogRoute route, int attemptNumber, bool isLast, DialectException ex)
    {
        var error = new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' answered with a body Qlaud could not read: {ex.Message}");
        return isLast ? Attempt.Done(new ForwardOutcome(error, false, route, null, attemptNumber)) : Attempt.Retry(error);
    }

    private static void WriteJson<TState>(IBufferWriter<byte> output, TState state, Action<Utf8JsonWriter, TState> write)
    {
        using var writer = new Utf8JsonWriter(output);
        write(writer, state);
    }

    /// <summary>Decodes each upstream event into canonical updates and encodes them in the client's dialect, keeping usage.</summary>
    private sealed class TranslatingStreamHandler(IStreamDecoder decoder, IStreamEncoder encoder) : SseEventHandler
    {
        private readonly List<ChatResponseUpdate> _updates = new(4);
        private QlaudError? _failed;

        public TokenUsage? Usage { get; private set; }

        public override bool Handle(ReadOnlySpan<byte> rawEvent, IBufferWriter<byte> client)
        {
            if (_failed is not null || decoder.Completed)
            {
                return false;
            }

            int lines = SseEvent.Parse(rawEvent, out var type, out var data);
            if (lines == 0)
            {
                return false;
            }

            if (lines > 1)
            {
                data = SseEvent.JoinData(rawEvent);
            }

            _updates.Clear();
            try
            {
                decoder.Decode(type, data, _updates);
            }
            catch (DialectException ex)
            {
                _failed = new QlaudError(ex.Kind, ex.Message);
                encoder.Fail(_failed, client);
                return true;
            }

            for (int i = 0; i < _updates.Count; i++)
            {
                var update = _updates[i];
                for (int c = 0; c < update.Contents.Count; c++)
                {
                    if (update.Contents[c] is UsageContent usage)
                    {
                        Usage = TokenUsage.Combine(Usage, TokenUsage.From(usage.Details));
                    }
                }

                encoder.Encode(update, client);
            }

            return _updates.Count > 0;
        }

        /// <summary>Closes the client stream: cleanly when the upstream finished, with an error event when it was cut off.</summary>
        public QlaudError? Finish(IBufferWriter<byte> client, CatalogRoute route)
        {
            if (_failed is not null)
            {
                return _failed;
            }

            if (decoder.Completed)
            {
                encoder.Complete(client);
                return null;
            }

            _failed = new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' ended the stream before it was complete.", "stream_truncated");
            encoder.Fail(_failed, client);
            return _failed;
        }
    }
}
