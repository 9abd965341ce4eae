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
/// optionally with <c>:nitro</c> or <c>:floor</c>) through the same router and providers as the HTTP surface.
/// </summary>
/// <remarks>
/// Responses carry usage in <see cref="ChatResponse.Usage"/> and the serving route, attempts and cost under the keys of
/// <see cref="QlaudResponseProperties"/>. Failures throw <see cref="QlaudException"/>; a retryable failure (transport error,
/// timeout, 408/429/5xx) moves to the next route before anything was returned.
/// </remarks>
internal sealed class QlaudChatClient : IChatClient
{
    private readonly Router _router;
    private readonly UpstreamClient _upstream;

    public QlaudChatClient(Router router, UpstreamClient upstream)
    {
        _router = router;
        _upstream = upstream;
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (plan, request) = Prepare(messages, options, stream: false);
        QlaudError? lastError = null;
        for (int i = 0; i < plan.Candidates.Count; i++)
        {
            var route = plan.Candidates[i];
            var dialect = DialectRegistry.Get(route.Provider.Dialect);
            using var result = await SendAsync(route, dialect, request, cancellationToken).ConfigureAwait(false);
            var (body, error) = await ReadAsync(result, route, i == plan.Candidates.Count - 1, cancellationToken).ConfigureAwait(false);
            if (error is not null)
            {
                lastError = error;
                continue;
            }

            ChatResponse response;
            try
            {
                response = dialect.ReadResponse(body);
            }
            catch (DialectException ex)
            {
                throw new QlaudException(new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' answered with a body Qlaud could not read: {ex.Message}"));
            }

            Annotate(response.AdditionalProperties ??= [], route, i + 1, response.Usage);
            return response;
        }

        throw new QlaudException(lastError!);
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (plan, request) = Prepare(messages, options, stream: true);
        QlaudError? lastError = null;
        for (int i = 0; i < plan.Candidates.Count; i++)
        {
            var route = plan.Candidates[i];
            var dialect = DialectRegistry.Get(route.Provider.Dialect);
            using var result = await SendAsync(route, dialect, request, cancellationToken).ConfigureAwait(false);
            if (result.Failure is { } failure)
            {
                lastError = new QlaudError(failure.Kind, failure.Message);
                continue;
            }

            int status = (int)result.Response!.StatusCode;
            if (status >= 400)
            {
                var (_, error) = await ReadAsync(result, route, i == plan.Candidates.Count - 1, cancellationToken).ConfigureAwait(false);
                lastError = error;
                continue;
            }

            var stream = await result.Response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var decoder = dialect.CreateStreamDecoder();
            var accumulator = new ToolCallAccumulator();
            var updates = new List<ChatResponseUpdate>();
            TokenUsage? usage = null;
            ChatResponseUpdate? last = null;
            await foreach (var item in SseParser.Create(stream, static (type, data) => data.ToArray()).EnumerateAsync(cancellationToken).ConfigureAwait(false))
            {
                updates.Clear();
                try
                {
                    decoder.Decode(System.Text.Encoding.UTF8.GetBytes(item.EventType), item.Data, updates);
                }
                catch (DialectException ex)
                {
                    throw new QlaudException(new QlaudError(ex.Kind, ex.Message));
                }

                foreach (var update in updates)
                {
                    foreach (var content in update.Contents)
                    {
                        if (content is UsageContent u)
                        {
                            usage = TokenUsage.Combine(usage, TokenUsage.From(u.Details));
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
            }

            if (!decoder.Completed)
            {
                throw new QlaudException(new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' ended the stream before it was complete.", "stream_truncated"));
            }

            var final = new ChatResponseUpdate { ModelId = last?.ModelId, ResponseId = last?.ResponseId, AdditionalProperties = [] };
            foreach (var call in accumulator.Complete())
            {
                final.Contents.Add(call);
            }

            Annotate(final.AdditionalProperties, route, i + 1, usage?.ToUsageDetails());
            yield return final;
            yield break;
        }

        throw new QlaudException(lastError!);
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

    private (RoutePlan Plan, CanonicalChatRequest Request) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options, bool stream)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (string.IsNullOrWhiteSpace(options?.ModelId))
        {
            throw new ArgumentException("Set ChatOptions.ModelId to a catalog model slug (for example 'gpt-4o-mini' or 'qlaud/echo').", nameof(options));
        }

        var plan = _router.Resolve(options.ModelId);
        if (plan.Error is { } error)
        {
            throw new QlaudException(error);
        }

        return (plan, new CanonicalChatRequest(messages as IList<ChatMessage> ?? [.. messages], options, stream));
    }

    private async ValueTask<UpstreamResult> SendAsync(CatalogRoute route, IChatDialect dialect, CanonicalChatRequest request, CancellationToken cancellationToken)
    {
        using var body = new PooledBufferWriter();
        using (var writer = new Utf8JsonWriter(body))
        {
            dialect.WriteRequest(writer, request, route.UpstreamModel);
        }

        var forwarded = new ForwardedHeaders(null, null);
        return await _upstream.SendChatAsync(route, body.WrittenMemory, forwarded, countTokens: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a whole body; maps failures to an error, thrown at once unless a later route may still serve.</summary>
    private static async ValueTask<(byte[] Body, QlaudError? Error)> ReadAsync(UpstreamResult result, CatalogRoute route, bool isLast, CancellationToken cancellationToken)
    {
        if (result.Failure is { } failure)
        {
            var transport = new QlaudError(failure.Kind, failure.Message);
            return isLast ? throw new QlaudException(transport) : ([], transport);
        }

        var response = result.Response!;
        byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        int status = (int)response.StatusCode;
        if (status < 400)
        {
            return (body, null);
        }

        string detail = UpstreamErrorMessage.Extract(body) is { } m ? " " + m : "";
        var statusError = ChatForwarder.UpstreamStatusError(route, status);
        var error = statusError with { Message = statusError.Message + detail };
        return ChatForwarder.IsRetryable(status) && !isLast ? ([], error) : throw new QlaudException(error);
    }

    private static void Annotate(AdditionalPropertiesDictionary properties, CatalogRoute route, int attempts, UsageDetails? usage)
    {
        properties[QlaudResponseProperties.Route] = route.Name;
        properties[QlaudResponseProperties.Attempts] = attempts;
        properties[QlaudResponseProperties.CostMicros] = usage is null ? 0L : route.Price.Cost(usage);
    }
}
