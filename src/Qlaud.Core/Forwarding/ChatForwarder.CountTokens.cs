using System.Text.Json;
using Qlaud.Catalog;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;

namespace Qlaud.Forwarding;

internal sealed partial class ChatForwarder
{
    /// <summary>
    /// Serves Anthropic's <c>POST /v1/messages/count_tokens</c> for any model: forwarded to an Anthropic-dialect route
    /// (only <c>model</c> rewritten), answered with <see cref="AnthropicTokenEstimator"/>'s documented estimate elsewhere.
    /// </summary>
    public async ValueTask<ForwardOutcome> CountTokensAsync(InboundChat inbound, ResponseSink sink, CancellationToken cancellationToken)
    {
        var plan = _router.Select(inbound.Info.Model, inbound.Routing, default);
        if (plan.Error is { } routingError)
        {
            return new ForwardOutcome(routingError, false, null, null, 0);
        }

        // Counting is cheap and idempotent: each route once, in order, without retries or circuit breaking.
        QlaudError? lastError = null;
        for (int i = 0; i < plan.Candidates.Count; i++)
        {
            var route = plan.Candidates[i];
            if (route.Provider.Dialect != "anthropic")
            {
                return Estimate(inbound, route, sink, i + 1);
            }

            using var body = new PooledBufferWriter(inbound.Body.Length + 64);
            WireRequestScanner.Rewrite(inbound.Body.Span, inbound.Info, route.UpstreamModelJson, forceIncludeUsage: false, body);
            using var deadline = new Providers.UpstreamDeadline(_time, cancellationToken);
            using var result = await _upstream.SendChatAsync(route, body.WrittenMemory, inbound.Headers, countTokens: true, deadline).ConfigureAwait(false);
            if (result.Failure is { } failure)
            {
                lastError = new QlaudError(failure.Kind, failure.Message);
                continue;
            }

            int status = (int)result.Response!.StatusCode;
            if (UpstreamStatus.IsRetryable(status) && i < plan.Candidates.Count - 1)
            {
                lastError = UpstreamStatus.KindError(route, status);
                continue;
            }

            using var answer = new PooledBufferWriter();
            await answer.ReadFromAsync(await result.Response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), MaxBufferedBody, cancellationToken).ConfigureAwait(false);
            StartResponse(sink, status, result.Response.Content.Headers.ContentType?.ToString() ?? "application/json", route, i + 1, answer.WrittenCount);
            await WriteAndFlushAsync(sink.Writer, answer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            return new ForwardOutcome(status >= 400 ? UpstreamStatus.KindError(route, status) : null, true, route, null, i + 1);
        }

        return new ForwardOutcome(lastError, false, null, null, plan.Candidates.Count);
    }

    private static ForwardOutcome Estimate(InboundChat inbound, CatalogRoute route, ResponseSink sink, int attempts)
    {
        CanonicalChatRequest request;
        try
        {
            request = AnthropicDialect.Instance.ReadCountTokensRequest(inbound.Body.Span);
        }
        catch (DialectException ex)
        {
            return new ForwardOutcome(new QlaudError(ex.Kind, ex.Message), false, route, null, attempts);
        }

        StartResponse(sink, 200, "application/json", route, attempts);
        sink.SetHeader("x-qlaud-token-count", "estimate");
        using (var writer = new Utf8JsonWriter(sink.Writer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("input_tokens", AnthropicTokenEstimator.EstimateInputTokens(request, route.UpstreamModel));
            writer.WriteEndObject();
        }

        return new ForwardOutcome(null, true, route, null, attempts);
    }
}
