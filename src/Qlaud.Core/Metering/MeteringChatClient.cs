using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Qlaud.Catalog;
using Qlaud.Routing;

namespace Qlaud.Metering;

/// <summary>
/// Meters in-process <see cref="IChatClient"/> calls: resolves the caller (<see cref="QlaudChatOptionKeys"/> or
/// <see cref="QlaudCallScope"/>), reserves the worst case before calling the inner client, and settles the answer's real
/// usage at the route it reports in <see cref="QlaudResponseProperties.Route"/>.
/// </summary>
/// <remarks>
/// <para>Over a cap, an empty enforced wallet or a rate limit, <see cref="QlaudException"/> is thrown before the inner
/// client is called (<see cref="QlaudErrorKind.PaymentRequired"/>, <see cref="QlaudErrorKind.RateLimited"/>).</para>
/// <para>Billing: an answer is charged for the usage it reports. The inner client failing before anything was returned
/// releases the reservation. A stream that fails or is abandoned after it produced output is charged for what was
/// generated: its reported usage if any arrived, else the input estimate plus the streamed text at 4 characters per token
/// (logged as estimated).</para>
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
        var (plan, reservation) = await ReserveAsync(messages, options, cancellationToken).ConfigureAwait(false);
        if (reservation is null)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }

        ChatResponse response;
        try
        {
            response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            guard.Release(reservation);
            throw;
        }

        string requestId = Diagnostics.RequestIds.New();
        (response.AdditionalProperties ??= [])[QlaudResponseProperties.RequestId] = requestId;
        var usage = response.Usage is { } details ? TokenUsage.From(details) : (TokenUsage?)null;
        long generated = (response.Text.Length + CharsPerOutputToken - 1) / CharsPerOutputToken;
        Settle(reservation, plan!, response.AdditionalProperties, usage, generated, requestId, options);
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (plan, reservation) = await ReserveAsync(messages, options, cancellationToken).ConfigureAwait(false);
        if (reservation is null)
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                yield return update;
            }

            yield break;
        }

        TokenUsage? usage = null;
        AdditionalPropertiesDictionary? annotations = null;
        string requestId = Diagnostics.RequestIds.New();
        long chars = 0;
        bool produced = false;
        try
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                if (!produced)
                {
                    (update.AdditionalProperties ??= [])[QlaudResponseProperties.RequestId] = requestId;
                }

                produced = true;
                foreach (var content in update.Contents)
                {
                    switch (content)
                    {
                        case UsageContent u:
                            usage = TokenUsage.Combine(usage, TokenUsage.From(u.Details));
                            break;
                        case TextContent t:
                            chars += t.Text?.Length ?? 0;
                            break;
                        case TextReasoningContent r:
                            chars += r.Text?.Length ?? 0;
                            break;
                    }
                }

                if (update.AdditionalProperties?.ContainsKey(QlaudResponseProperties.Route) == true)
                {
                    annotations = update.AdditionalProperties;
                }

                yield return update;
            }
        }
        finally
        {
            // Completed, failed part-way or abandoned by the consumer: charge what was produced, release what was not.
            if (produced)
            {
                Settle(reservation, plan!, annotations, usage, (chars + CharsPerOutputToken - 1) / CharsPerOutputToken, requestId, options);
            }
            else
            {
                guard.Release(reservation);
            }
        }
    }

    /// <summary>Resolves the caller and reserves; null reservation when the model cannot be routed (the inner client reports that).</summary>
    private async ValueTask<(RoutePlan? Plan, SpendReservation? Reservation)> ReserveAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var caller = await callers.ResolveOrThrowAsync(options, cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(options?.ModelId) || router.Resolve(options.ModelId) is not { Error: null } plan)
        {
            return (null, null);
        }

        var estimate = guard.Estimate(plan, SpendEstimator.EstimateInputTokens(messages, options), options.MaxOutputTokens);
        var decision = await guard.ReserveAsync(caller, estimate, cancellationToken).ConfigureAwait(false);
        return (plan, decision.ReservationOrThrow());
    }

    private void Settle(SpendReservation reservation, RoutePlan plan, AdditionalPropertiesDictionary? annotations, TokenUsage? usage, long generatedOutputTokens,
        string? requestId, ChatOptions? options)
    {
        var route = FindRoute(plan, annotations?.TryGetValue(QlaudResponseProperties.Route, out var name) == true ? name as string : null);
        string? endUser = options?.AdditionalProperties?.TryGetValue(QlaudChatOptionKeys.EndUser, out var user) == true ? user as string : null;
        guard.Settle(reservation, SettledUsage.FromRoute(route, usage, reservation, generatedOutputTokens, requestId, endUser));
    }

    /// <summary>The route that answered; the dearest candidate when the answer does not say (never under-charges).</summary>
    private static CatalogRoute FindRoute(RoutePlan plan, string? name)
    {
        CatalogRoute? dearest = null;
        foreach (var route in plan.Candidates)
        {
            if (route.Name == name)
            {
                return route;
            }

            if (dearest is null || route.Price.OutputMicrosPerMTok + route.Price.InputMicrosPerMTok > dearest.Price.OutputMicrosPerMTok + dearest.Price.InputMicrosPerMTok)
            {
                dearest = route;
            }
        }

        return dearest!;
    }
}
