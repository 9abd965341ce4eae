using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Catalog;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;
using Qlaud.Metering;
using Qlaud.Providers;
using Qlaud.Routing;

namespace Qlaud.Forwarding;

internal sealed partial class ChatForwarder
{
    /// <summary>Serves a request whose route speaks another dialect: decode to canonical, encode for the upstream, translate the answer back.</summary>
    private async ValueTask<AttemptResult> TranslateAsync(ForwardScope scope, CancellationToken cancellationToken)
    {
        var inbound = scope.Inbound;
        var route = scope.Route;
        var sink = scope.Sink;
        CanonicalChatRequest canonical;
        // An Anthropic client's thinking blocks are Qlaud's own when they reach another dialect: verified on the way in,
        // signed on the way out.
        var signer = inbound.Surface is AnthropicDialect ? await _signatures.GetSignerAsync(cancellationToken).ConfigureAwait(false) : null;
        try
        {
            canonical = inbound.Canonical ??= ReadCanonical(inbound, route, signer);
        }
        catch (DialectException ex)
        {
            // The request itself is malformed: no route can serve it, and the caller hears why at once.
            var invalid = new QlaudError(ex.Kind, ex.Message);
            scope.Outcome = new ForwardOutcome(invalid, false, route, null, scope.Attempts);
            return AttemptResult.Answered(invalid, "invalid_request");
        }

        var upstreamDialect = DialectRegistry.Get(route.Provider.Dialect);
        var structured = Dialects.Anthropic.AnthropicStructuredOutput.For(canonical, route);
        using var body = new PooledBufferWriter(inbound.Body.Length + 256);
        using (var writer = new Utf8JsonWriter(body))
        {
            var request = structured?.Request ?? canonical;
            if (upstreamDialect is AnthropicDialect anthropic && _autoPromptCache)
            {
                anthropic.WriteRequest(writer, request, route.UpstreamModel, AnthropicPromptCache.ShouldPlaceBreakpoints(request, route.UpstreamModel));
            }
            else
            {
                upstreamDialect.WriteRequest(writer, request, route.UpstreamModel);
            }
        }

        using var deadline = new UpstreamDeadline(_time, cancellationToken);
        scope.MarkSent();
        using var result = await _upstream.SendChatAsync(route, body.WrittenMemory, inbound.Headers, countTokens: false, deadline).ConfigureAwait(false);
        if (result.Failure is { } failure)
        {
            return AttemptResult.Retry(new QlaudError(failure.Kind, failure.Message), failure.ErrorType);
        }

        var response = result.Response!;
        int status = (int)response.StatusCode;
        var upstreamStream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        string model = ResponseModel(inbound, route);
        if (status >= 400)
        {
            using var errorBody = new PooledBufferWriter();
            if (await ReadWholeAsync(upstreamStream, errorBody, scope, deadline, route).ConfigureAwait(false) is { } broken)
            {
                return broken;
            }

            if (UpstreamStatus.Judge(route, status, errorBody.WrittenSpan, response, scope.HasMoreCandidates, _time) is { } judged)
            {
                return judged;
            }

            // Another dialect's error body would confuse the client's SDK: keep the status and message, re-wrap in the surface's envelope.
            var error = UpstreamStatus.Error(route, status, errorBody.WrittenSpan);
            scope.Meter?.ErrorRelayed();
            using var rewrapped = new PooledBufferWriter();
            WriteJson(rewrapped, (inbound.Surface, error), static (w, s) => s.Surface.WriteError(w, s.error));
            StartResponse(sink, status, "application/json", route, scope.Attempts, rewrapped.WrittenCount);
            await WriteAndFlushAsync(sink.Writer, rewrapped.WrittenMemory, cancellationToken).ConfigureAwait(false);
            scope.Outcome = new ForwardOutcome(error, true, route, null, scope.Attempts);
            return AttemptResult.Answered(error, UpstreamStatus.StatusText(status));
        }

        string contentType = response.Content.Headers.ContentType?.MediaType ?? "";
        if (!canonical.Stream || !contentType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            using var whole = new PooledBufferWriter(16 * 1024);
            if (await ReadWholeAsync(upstreamStream, whole, scope, deadline, route).ConfigureAwait(false) is { } broken)
            {
                return broken;
            }

            ChatResponse chat;
            try
            {
                chat = upstreamDialect.ReadResponse(whole.WrittenSpan);
                structured?.Apply(chat);
            }
            catch (DialectException ex)
            {
                return UpstreamGarbage(route, ex);
            }

            if (signer is not null)
            {
                SignThinking(chat, signer);
            }

            var usage = chat.Usage is { } u ? TokenUsage.From(u) : (TokenUsage?)null;
            scope.SetUsage(usage);
            scope.SetResponseModel(chat.ModelId);
            // Encoded aside first, so the answer goes out with its length.
            using var answer = new PooledBufferWriter(whole.WrittenCount + 1024);
            WriteJson(answer, (inbound.Surface, chat, model), static (w, s) => s.Surface.WriteResponse(w, s.chat, s.model));
            StartResponse(sink, 200, "application/json", route, scope.Attempts, answer.WrittenCount);
            await WriteAndFlushAsync(sink.Writer, answer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            scope.Meter?.Delivered();
            scope.Outcome = new ForwardOutcome(null, true, route, usage, scope.Attempts);
            return AttemptResult.Success();
        }

        var decoder = upstreamDialect.CreateStreamDecoder();
        var translator = new TranslatingStreamHandler(structured?.Wrap(decoder) ?? decoder, CreateEncoder(inbound, canonical, model, signer));
        var (end, notStarted) = await RelayStreamAsync(upstreamStream, 200, translator, scope, deadline, cancellationToken).ConfigureAwait(false);
        if (notStarted is { } beforeFirstByte)
        {
            return beforeFirstByte;
        }

        var outcomeError = translator.Finish(sink.Writer, translator.DecoderCompleted && end != PumpEnd.EventTooLarge ? null : Truncated(route, end));
        await sink.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        scope.SetUsage(translator.Usage);
        scope.Outcome = new ForwardOutcome(outcomeError, true, route, translator.Usage, scope.Attempts);
        return outcomeError is null ? AttemptResult.Success() : AttemptResult.Broken(outcomeError, outcomeError.Code ?? "stream_error");
    }

    /// <summary>Decodes the client's body; the routing fields Qlaud consumed are not passed on to another dialect.</summary>
    private static CanonicalChatRequest ReadCanonical(InboundChat inbound, CatalogRoute route, ThinkingSigner? signer)
    {
        if (inbound.Info.ModelLength == 0)
        {
            // The body names its models only in `models`: the decoder needs a model (the upstream gets the route's id anyway),
            // and the splice drops the routing fields too. The decoder copies what it keeps, so the buffer can go.
            using var withModel = new PooledBufferWriter(inbound.Body.Length + 64);
            WireRequestScanner.Rewrite(inbound.Body.Span, inbound.Info, route.UpstreamModelJson, forceIncludeUsage: false, withModel);
            return Read(inbound.Surface, withModel.WrittenSpan, signer);
        }

        var canonical = Read(inbound.Surface, inbound.Body.Span, signer);
        if (inbound.Info.HasRoutingFields && canonical.Options.AdditionalProperties is { } extra)
        {
            string prefix = inbound.Surface.Name + ":";
            extra.Remove(prefix + "models");
            extra.Remove(prefix + "provider");
        }

        return canonical;
    }

    private static CanonicalChatRequest Read(IChatDialect surface, ReadOnlySpan<byte> body, ThinkingSigner? signer)
        => signer is not null && surface is AnthropicDialect anthropic ? anthropic.ReadRequest(body, signer) : surface.ReadRequest(body);

    /// <summary>Gives every thinking block of a translated answer Qlaud's signature (an upstream of another dialect has none
    /// an Anthropic client could send back).</summary>
    private static void SignThinking(ChatResponse chat, ThinkingSigner signer)
    {
        var messages = chat.Messages;
        for (int m = 0; m < messages.Count; m++)
        {
            var contents = messages[m].Contents;
            for (int c = 0; c < contents.Count; c++)
            {
                if (contents[c] is TextReasoningContent { Text.Length: > 0 } reasoning
                    && reasoning.AdditionalProperties?.ContainsKey(CanonicalKeys.Redacted) is not true)
                {
                    reasoning.ProtectedData = signer.Sign(reasoning.Text);
                }
            }
        }
    }

    /// <summary>The model named in a translated answer: what the client asked for, or the fallback model that served it.</summary>
    private static string ResponseModel(InboundChat inbound, CatalogRoute route)
    {
        if (inbound.Info.Model is not { } requested)
        {
            return route.ModelId;
        }

        int suffix = requested.LastIndexOf(':');
        var slug = suffix > 0 && requested.AsSpan(suffix) is ":nitro" or ":floor" ? requested.AsSpan(0, suffix) : requested.AsSpan();
        return slug.Equals(route.ModelId, StringComparison.OrdinalIgnoreCase) ? requested : route.ModelId;
    }

    /// <summary>The client's stream encoder. An Anthropic client's <c>message_start</c> carries an estimate of the input tokens,
    /// since an OpenAI-dialect upstream reports its exact counts only at the end (they follow in <c>message_delta</c>).</summary>
    private static IStreamEncoder CreateEncoder(InboundChat inbound, CanonicalChatRequest canonical, string model, ThinkingSigner? signer)
    {
        string id = (inbound.Surface.Name == "anthropic" ? "msg_" : "chatcmpl-") + Guid.NewGuid().ToString("N");
        return inbound.Surface switch
        {
            Dialects.OpenAI.OpenAIDialect openai => openai.CreateStreamEncoder(model, id, includeUsage: inbound.Info.ClientIncludeUsage),
            AnthropicDialect => new AnthropicStreamEncoder(model, id, AnthropicTokenEstimator.EstimateInputTokens(canonical), signer),
            _ => inbound.Surface.CreateStreamEncoder(model, id),
        };
    }

    private static AttemptResult UpstreamGarbage(CatalogRoute route, DialectException ex)
        => AttemptResult.Retry(new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' answered with a body Qlaud could not read: {ex.Message}"), "invalid_response");

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

        /// <summary>Whether the upstream sent its end event.</summary>
        public bool DecoderCompleted => decoder.Completed;

        /// <summary>Closes the client stream: cleanly when the upstream finished, with an error event when it was cut off or stalled.</summary>
        public QlaudError? Finish(IBufferWriter<byte> client, QlaudError? cutOff)
        {
            if (_failed is not null)
            {
                return _failed;
            }

            if (cutOff is null && decoder.Completed)
            {
                encoder.Complete(client);
                return null;
            }

            _failed = cutOff;
            encoder.Fail(_failed!, client);
            return _failed;
        }
    }
}
