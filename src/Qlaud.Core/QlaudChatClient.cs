using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Catalog;
using Qlaud.Dialects;
using Qlaud.Forwarding;
using Qlaud.Metering;
using Qlaud.Providers;
using Qlaud.Routing;

namespace Qlaud;

/// <summary>
/// The in-process gateway: an <see cref="IChatClient"/> that routes by <see cref="ChatOptions.ModelId"/> (a catalog slug,
/// optionally with <c>:nitro</c> or <c>:floor</c>) through the same router, attempt policy and providers as the HTTP surface.
/// </summary>
/// <remarks>
/// <para>Fallback models and provider preferences come from <see cref="ChatOptions.AdditionalProperties"/> under the keys of
/// <see cref="QlaudChatOptions"/>. Responses carry usage in <see cref="ChatResponse.Usage"/> and the serving route, attempts
/// (retries included) and cost under the keys of <see cref="QlaudResponseProperties"/>.</para>
/// <para>Failures throw <see cref="QlaudException"/>. A retryable failure (transport error, timeout, 408/409/429/5xx, an
/// answer that stalls or breaks off before its first update) is retried with back-off and then moves to the next route or
/// model, all before anything was returned; a stream that fails after its first update throws from the enumeration.</para>
/// </remarks>
internal sealed class QlaudChatClient : IChatClient
{
    private readonly Router _router;
    private readonly UpstreamClient _upstream;
    private readonly AttemptPolicy _policy;

    /// <summary>This thread's writer of upstream request bodies, reset onto each body: writing is synchronous, so one per
    /// thread serves every attempt and a call allocates no writer.</summary>
    [ThreadStatic]
    private static Utf8JsonWriter? t_requestWriter;

    /// <summary>Attempt counts as boxed once, for the response's <see cref="QlaudResponseProperties.Attempts"/>.</summary>
    private static readonly object[] BoxedAttempts = [.. Enumerable.Range(0, 9).Select(static n => (object)n)];

    public QlaudChatClient(Router router, UpstreamClient upstream, AttemptPolicy policy)
    {
        _router = router;
        _upstream = upstream;
        _policy = policy;
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (candidates, request) = Prepare(messages, options, stream: false);
        var scope = new ChatScope(this, request) { Meter = MeteredCall.Current };
        var summary = await _policy.RunAsync(scope, candidates, static (s, ct) => s.Client.AttemptAsync(s, ct), cancellationToken).ConfigureAwait(false);
        if (!summary.Completed)
        {
            throw new QlaudException(summary.Error!);
        }

        if (scope.Error is { } error)
        {
            throw new QlaudException(error);
        }

        var response = scope.Response!;
        Annotate(response.AdditionalProperties ??= [], summary.Route!, summary.Attempts, response.Usage);
        return response;
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (candidates, request) = Prepare(messages, options, stream: true);
        var scope = new ChatScope(this, request) { Meter = MeteredCall.Current };
        var summary = await _policy.RunAsync(scope, candidates, static (s, ct) => s.Client.AttemptAsync(s, ct), cancellationToken).ConfigureAwait(false);
        if (!summary.Completed)
        {
            throw new QlaudException(summary.Error!);
        }

        if (scope.Error is { } answered)
        {
            throw new QlaudException(answered);
        }

        var route = summary.Route!;
        var stream = scope.Stream!;
        var final = AttemptResult.Success();
        try
        {
            var decoder = DialectRegistry.Get(route.Provider.Dialect).CreateStreamDecoder();
            if (Dialects.Anthropic.AnthropicStructuredOutput.For(scope.Request, route) is { } structured)
            {
                decoder = structured.Wrap(decoder);
            }

            var accumulator = new ToolCallAccumulator();
            var updates = new List<ChatResponseUpdate>();
            TokenUsage? usage = null;
            ChatResponseUpdate? last = null;
            bool hasItem = true;
            while (hasItem)
            {
                var item = stream.Events.Current;
                updates.Clear();
                try
                {
                    decoder.Decode(System.Text.Encoding.UTF8.GetBytes(item.EventType), item.Data, updates);
                }
                catch (DialectException ex)
                {
                    var invalid = new QlaudError(ex.Kind, ex.Message);
                    final = AttemptResult.Broken(invalid, "invalid_response");
                    throw new QlaudException(invalid);
                }

                foreach (var update in updates)
                {
                    foreach (var content in update.Contents)
                    {
                        if (content is UsageContent u)
                        {
                            usage = TokenUsage.Combine(usage, TokenUsage.From(u.Details));
                            scope.SetUsage(usage);
                        }
                    }

                    // Tool call fragments are folded into whole FunctionCallContent, delivered with the finishing update.
                    if (accumulator.Process(update))
                    {
                        last = update;
                        yield return update;
                    }
                }

                if (decoder.Completed)
                {
                    break;
                }

                (hasItem, var broken) = await stream.NextAsync(route).ConfigureAwait(false);
                if (broken is not null)
                {
                    final = AttemptResult.Broken(broken, broken.Code ?? "stream_truncated");
                    throw new QlaudException(broken);
                }
            }

            if (!decoder.Completed)
            {
                var truncated = new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' ended the stream before it was complete.", "stream_truncated");
                final = AttemptResult.Broken(truncated, "stream_truncated");
                throw new QlaudException(truncated);
            }

            scope.SetResponseModel(last?.ModelId);
            var finalUpdate = new ChatResponseUpdate { ModelId = last?.ModelId, ResponseId = last?.ResponseId, AdditionalProperties = [] };
            foreach (var call in accumulator.Complete())
            {
                finalUpdate.Contents.Add(call);
            }

            Annotate(finalUpdate.AdditionalProperties, route, summary.Attempts, usage?.ToUsageDetails());
            yield return finalUpdate;
        }
        finally
        {
            // Also when the caller stops enumerating early: the attempt is measured and traced up to here.
            _policy.CompleteOpenAttempt(scope, final);
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this
            : serviceKey is null && serviceType == typeof(ModelCatalog) ? _router.Catalog
            : serviceKey is null && serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("qlaud")
            : null;
    }

    public void Dispose()
    {
        // Owned by the DI container; nothing to release per client.
    }

    private (IReadOnlyList<CatalogRoute> Candidates, CanonicalChatRequest Request) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options, bool stream)
    {
        ArgumentNullException.ThrowIfNull(messages);

        // Inside the metering decorator the same request was routed a moment ago for its reservation.
        if (MeteredCall.Current?.Routed is { } routed && routed.Matches(messages, options, stream))
        {
            return (routed.Candidates, new CanonicalChatRequest(routed.Messages, routed.Options, stream));
        }

        var routing = RoutingRequest.FromChatOptions(options);
        if (string.IsNullOrWhiteSpace(options?.ModelId) && routing is not { Models.Count: > 0 })
        {
            throw new ArgumentException("Set ChatOptions.ModelId to a catalog model slug (for example 'gpt-4o-mini' or 'qlaud/echo').", nameof(options));
        }

        var request = new CanonicalChatRequest(messages as IList<ChatMessage> ?? [.. messages], options!, stream);
        var selection = _router.Select(options!.ModelId, routing, RequestTraits.FromCanonical(request));
        if (selection.Error is { } error)
        {
            throw new QlaudException(error);
        }

        return (selection.Candidates, request);
    }

    /// <summary>One attempt: send, judge the status, and read the answer (non-streamed) or its first event (streamed).</summary>
    private async ValueTask<AttemptResult> AttemptAsync(ChatScope scope, CancellationToken cancellationToken)
    {
        var route = scope.Route;
        var dialect = DialectRegistry.Get(route.Provider.Dialect);
        var structured = Dialects.Anthropic.AnthropicStructuredOutput.For(scope.Request, route);
        using var body = new PooledBufferWriter();
        var writer = t_requestWriter;
        if (writer is null)
        {
            t_requestWriter = writer = new Utf8JsonWriter(body);
        }
        else
        {
            writer.Reset(body);
        }

        dialect.WriteRequest(writer, structured?.Request ?? scope.Request, route.UpstreamModel);
        writer.Flush();

        var deadline = new UpstreamDeadline(_policy.Health.Time, cancellationToken);
        UpstreamResult result = default;
        bool handedOver = false;
        try
        {
            scope.MarkSent();
            result = await _upstream.SendChatAsync(route, body.WrittenMemory, default, countTokens: false, deadline).ConfigureAwait(false);
            if (result.Failure is { } failure)
            {
                return AttemptResult.Retry(new QlaudError(failure.Kind, failure.Message), failure.ErrorType);
            }

            var response = result.Response!;
            int status = (int)response.StatusCode;
            var content = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            if (status >= 400 || !scope.Request.Stream)
            {
                using var whole = new PooledBufferWriter();
                if (await ChatForwarder.ReadWholeAsync(content, whole, scope, deadline, route).ConfigureAwait(false) is { } broken)
                {
                    return broken;
                }

                if (status >= 400)
                {
                    var answer = UpstreamStatus.Answer(route, status, whole.WrittenSpan, response, scope.HasMoreCandidates, _policy.Health.Time, out var error);
                    scope.Error = error ?? scope.Error;
                    return answer;
                }

                try
                {
                    scope.Response = dialect.ReadResponse(whole.WrittenSpan);
                    structured?.Apply(scope.Response);
                }
                catch (DialectException ex)
                {
                    return AttemptResult.Retry(new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' answered with a body Qlaud could not read: {ex.Message}"), "invalid_response");
                }

                scope.SetUsage(scope.Response.Usage is { } usage ? TokenUsage.From(usage) : null);
                scope.SetResponseModel(scope.Response.ModelId);
                return AttemptResult.Success();
            }

            // A stream: the attempt lasts until its first event, so an upstream that stalls or breaks off before it is retried.
            var events = SseParser.Create(content, static (type, data) => data.ToArray()).EnumerateAsync(deadline.Token).GetAsyncEnumerator(deadline.Token);
            var open = new OpenStream(result, deadline, events);
            var (hasItem, firstError) = await open.FirstAsync(route).ConfigureAwait(false);
            if (!hasItem || firstError is not null)
            {
                await open.DisposeAsync().ConfigureAwait(false);
                handedOver = true;
                return AttemptResult.Retry(firstError ?? new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' ended the stream before sending anything.", "stream_truncated"),
                    firstError?.Code ?? "stream_truncated");
            }

            scope.MarkStreamStarted();
            scope.Stream = open;
            handedOver = true;
            return AttemptResult.Success(open: true);
        }
        finally
        {
            if (!handedOver)
            {
                result.Dispose();
                deadline.Dispose();
            }
        }
    }

    private static void Annotate(AdditionalPropertiesDictionary properties, CatalogRoute route, int attempts, UsageDetails? usage)
    {
        properties[QlaudResponseProperties.Route] = route.Name;
        properties[QlaudResponseProperties.Attempts] = (uint)attempts < (uint)BoxedAttempts.Length ? BoxedAttempts[attempts] : attempts;
        properties[QlaudResponseProperties.CostMicros] = usage is null ? 0L : route.Price.Cost(usage);
    }

    /// <summary>One in-process request's run over its routes.</summary>
    private sealed class ChatScope(QlaudChatClient client, CanonicalChatRequest request) : AttemptScope
    {
        public QlaudChatClient Client { get; } = client;

        public CanonicalChatRequest Request { get; } = request;

        /// <summary>The non-streamed answer.</summary>
        public ChatResponse? Response { get; set; }

        /// <summary>An upstream error the caller receives as is (for example a 400).</summary>
        public QlaudError? Error { get; set; }

        /// <summary>The streamed answer, open after its first event.</summary>
        public OpenStream? Stream { get; set; }
    }

    /// <summary>A stream that has started: the upstream response, its deadline (re-armed with the idle timeout per event) and its events.</summary>
    private sealed class OpenStream(UpstreamResult result, UpstreamDeadline deadline, IAsyncEnumerator<SseItem<byte[]>> events) : IAsyncDisposable
    {
        public IAsyncEnumerator<SseItem<byte[]>> Events { get; } = events;

        /// <summary>Waits for the first event under the first-byte timeout.</summary>
        public ValueTask<(bool HasItem, QlaudError? Error)> FirstAsync(CatalogRoute route) => MoveAsync(route, first: true);

        /// <summary>Waits for the next event under the idle timeout; a stall or a broken connection is an error value.</summary>
        public ValueTask<(bool HasItem, QlaudError? Error)> NextAsync(CatalogRoute route)
        {
            deadline.Arm(route.Provider.IdleTimeout);
            return MoveAsync(route, first: false);
        }

        public async ValueTask DisposeAsync()
        {
            await Events.DisposeAsync().ConfigureAwait(false);
            result.Dispose();
            deadline.Dispose();
        }

        private async ValueTask<(bool HasItem, QlaudError? Error)> MoveAsync(CatalogRoute route, bool first)
        {
            try
            {
                return (await Events.MoveNextAsync().ConfigureAwait(false), null);
            }
            catch (OperationCanceledException) when (deadline.TimedOut)
            {
                return (false, new QlaudError(QlaudErrorKind.Timeout, first
                    ? $"The provider '{route.Provider.Name}' did not start its stream in time."
                    : $"The provider '{route.Provider.Name}' stopped sending its stream.", first ? "timeout" : "stream_timeout"));
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException && !deadline.CallerCancelled)
            {
                return (false, new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' broke off its stream.", "stream_truncated"));
            }
        }
    }
}
