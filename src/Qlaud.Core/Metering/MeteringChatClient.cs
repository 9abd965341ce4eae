using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Routing;

namespace Qlaud.Metering;

/// <summary>
/// Meters in-process <see cref="IChatClient"/> calls: resolves the caller (<see cref="QlaudChatOptionKeys"/> or
/// <see cref="QlaudCallScope"/>), reserves the worst case of the same routing selection the HTTP surface uses (the model,
/// its <see cref="QlaudChatOptions.Models"/> fallbacks and provider preferences) before calling the inner client, and settles
/// through <see cref="MeteredCall"/>, the HTTP forwarder's settle table, at the route that answered.
/// </summary>
/// <remarks>
/// <para>Over a cap, an empty enforced wallet or a rate limit, <see cref="QlaudException"/> is thrown before the inner
/// client is called (<see cref="QlaudErrorKind.PaymentRequired"/>, <see cref="QlaudErrorKind.RateLimited"/>).</para>
/// <para>Billing (<see cref="MeteredCall"/>): an answer is charged for the usage it reports, at the route that served it (a
/// fallback model's route included). Every attempt failing, an upstream error, or a fault inside the gateway releases the
/// reservation. Cancelled by the caller while a provider was generating: the input estimate (providers bill the prompt).
/// A stream that fails or is abandoned after it produced output is charged for what was generated: its reported usage if
/// any arrived, else the input estimate plus the streamed text at 4 characters per token (logged as estimated). The inner
/// Qlaud client reports its attempts to the call; another inner client is charged at the route its answer names in
/// <see cref="QlaudResponseProperties.Route"/>, else at the dearest candidate.</para>
/// <para>Each metered call gets a request id (<see cref="QlaudResponseProperties.RequestId"/>, on the response and on the
/// first streamed update), the <c>request_id</c> of its ledger entry, as the HTTP surface's <c>x-qlaud-request-id</c>.</para>
/// <para><c>AddQlaud()</c> registers it as the outermost decorator of the <see cref="IChatClient"/> when metering is on.</para>
/// </remarks>
internal sealed class MeteringChatClient(IChatClient inner, ISpendGuard guard, QlaudCallerResolver callers, Router router) : DelegatingChatClient(inner)
{
    /// <summary>Characters of streamed text counted as one output token when the upstream reported no usage.</summary>
    private const int CharsPerOutputToken = 4;

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages as IList<ChatMessage> ?? [.. messages];
        var call = await ReserveAsync(list, options, stream: false, cancellationToken).ConfigureAwait(false);
        if (call is null)
        {
            return await base.GetResponseAsync(list, options, cancellationToken).ConfigureAwait(false);
        }

        return await call.RunAsync((Client: this, Messages: list, Options: options), static (s, ct) => s.Client.InnerGetResponseAsync(s.Messages, s.Options, ct),
            static (call, response) =>
            {
                (response.AdditionalProperties ??= [])[QlaudResponseProperties.RequestId] = call.RequestId;
                call.ReportUsage(response.Usage is { } details ? TokenUsage.From(details) : null);
                call.GeneratedOutputTokens = (response.Text.Length + CharsPerOutputToken - 1) / CharsPerOutputToken;
                call.Delivered(MeteredCall.AnsweringRoute(response.AdditionalProperties));
            }, cancellationToken).ConfigureAwait(false);
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages as IList<ChatMessage> ?? [.. messages];
        var call = await ReserveAsync(list, options, stream: true, cancellationToken).ConfigureAwait(false);
        if (call is null)
        {
            await foreach (var update in base.GetStreamingResponseAsync(list, options, cancellationToken).ConfigureAwait(false))
            {
                yield return update;
            }

            yield break;
        }

        TokenUsage? usage = null;
        long chars = 0;
        bool produced = false;
        var end = CallEnd.Faulted;
        var outer = MeteredCall.Current;
        MeteredCall.Current = call;
        try
        {
            await using var updates = base.GetStreamingResponseAsync(list, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                bool more;
                try
                {
                    more = await updates.MoveNextAsync().ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    end = CallEnd.Cancelled;
                    throw;
                }

                if (!more)
                {
                    break;
                }

                var update = updates.Current;
                if (!produced)
                {
                    (update.AdditionalProperties ??= [])[QlaudResponseProperties.RequestId] = call.RequestId;
                    call.StreamStarted(MeteredCall.AnsweringRoute(update.AdditionalProperties));
                    produced = true;
                }

                foreach (var content in update.Contents)
                {
                    switch (content)
                    {
                        case UsageContent u:
                            usage = TokenUsage.Combine(usage, TokenUsage.From(u.Details));
                            call.ReportUsage(usage);
                            break;
                        case TextContent t:
                            chars += t.Text?.Length ?? 0;
                            break;
                        case TextReasoningContent r:
                            chars += r.Text?.Length ?? 0;
                            break;
                    }
                }

                call.GeneratedOutputTokens = (chars + CharsPerOutputToken - 1) / CharsPerOutputToken;
                if (MeteredCall.AnsweringRoute(update.AdditionalProperties) is { } routeName)
                {
                    call.Delivered(routeName);
                }

                yield return update;
            }

            end = CallEnd.Completed;
        }
        finally
        {
            // Completed, failed part-way or abandoned by the consumer (the finally runs on dispose): a stream that produced
            // output is charged for it by the call's table, whatever the end.
            MeteredCall.Current = outer;
            call.Close(end);
        }
    }

    /// <summary>
    /// Resolves the caller and reserves the worst case of the routing selection the inner client will run; null when the
    /// request cannot be routed (the inner client reports why).
    /// </summary>
    private async ValueTask<MeteredCall?> ReserveAsync(IList<ChatMessage> messages, ChatOptions? options, bool stream, CancellationToken cancellationToken)
    {
        var caller = await callers.ResolveOrThrowAsync(options, cancellationToken).ConfigureAwait(false);
        var routing = RoutingRequest.FromChatOptions(options);
        if (options is null || string.IsNullOrWhiteSpace(options.ModelId) && routing is not { Models.Count: > 0 })
        {
            return null;
        }

        // One bound over the conversation serves the routing traits and the reservation's input estimate.
        long bound = Tokenization.ConversationTokens.Bound(messages, options);
        var selection = router.Select(options.ModelId, routing, RequestTraits.FromBound(options, bound));
        if (selection.Error is not null)
        {
            return null;
        }

        string? endUser = options.AdditionalProperties?.TryGetValue(QlaudChatOptionKeys.EndUser, out var user) == true ? user as string : null;
        var (call, refusal) = await MeteredCall.ReserveAsync(guard, caller, selection.Candidates, router.Catalog, SpendEstimator.EstimateInputTokens(bound, options),
            options.MaxOutputTokens, Diagnostics.RequestIds.New(), endUser, cancellationToken).ConfigureAwait(false);
        if (call is null)
        {
            throw new QlaudException(refusal!);
        }

        call.Routed = new RoutedChat(messages, options, options.ModelId, options.Tools?.Count ?? 0, stream, selection.Candidates);
        return call;
    }

    private Task<ChatResponse> InnerGetResponseAsync(IList<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
        => base.GetResponseAsync(messages, options, cancellationToken);
}
