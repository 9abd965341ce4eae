using Microsoft.Extensions.AI;
using Qlaud.Catalog;
using Qlaud.Metering;
using Qlaud.Routing;

namespace Qlaud.Embeddings;

/// <summary>
/// Meters in-process embedding calls as <see cref="MeteringChatClient"/> meters chat: resolves the caller
/// (<see cref="QlaudChatOptionKeys"/> in <see cref="EmbeddingGenerationOptions.AdditionalProperties"/>, or
/// <see cref="QlaudCallScope"/>), reserves the input estimate at the dearest candidate route before calling the inner
/// generator, and settles the upstream's <c>prompt_tokens</c> at the route it reports in <see cref="QlaudResponseProperties.Route"/>.
/// </summary>
/// <remarks>
/// <para>Over a cap, an empty enforced wallet or a rate limit, <see cref="QlaudException"/> is thrown before the inner
/// generator is called. An embedding model generates no tokens, so nothing is reserved for output.</para>
/// <para>Billing: the result is charged for the usage it reports, else for the input estimate (logged as estimated). The inner
/// generator failing releases the reservation. Each metered call gets a request id (<see cref="QlaudResponseProperties.RequestId"/>
/// on the result), the <c>request_id</c> of its ledger entry.</para>
/// <para><c>AddQlaud()</c> registers it as the outermost decorator of the <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> when metering is on.</para>
/// </remarks>
internal sealed class MeteringEmbeddingGenerator(IEmbeddingGenerator<string, Embedding<float>> inner, ISpendGuard guard, QlaudCallerResolver callers, Router router)
    : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
{
    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var inputs = values as IReadOnlyList<string> ?? [.. values];
        var caller = await callers.ResolvePropertiesOrThrowAsync(options?.AdditionalProperties, cancellationToken).ConfigureAwait(false);
        if (inputs.Count == 0 || string.IsNullOrWhiteSpace(options?.ModelId) || router.Resolve(options.ModelId) is not { Error: null, Model.IsEmbedding: true } plan)
        {
            // Nothing to embed, or a model the inner generator refuses (unknown, unconfigured, a chat model): nothing to meter.
            return await base.GenerateAsync(inputs, options, cancellationToken).ConfigureAwait(false);
        }

        var estimate = guard.Estimate(plan, EstimateInputTokens(inputs), 0);
        var reservation = (await guard.ReserveAsync(caller, estimate, cancellationToken).ConfigureAwait(false)).ReservationOrThrow();
        GeneratedEmbeddings<Embedding<float>> result;
        try
        {
            result = await base.GenerateAsync(inputs, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            guard.Release(reservation);
            throw;
        }

        string requestId = Diagnostics.RequestIds.New();
        var properties = result.AdditionalProperties ??= [];
        properties[QlaudResponseProperties.RequestId] = requestId;
        var route = FindRoute(plan, properties.TryGetValue(QlaudResponseProperties.Route, out var name) ? name as string : null);
        var usage = result.Usage is { } details ? TokenUsage.From(details) : (TokenUsage?)null;
        string? endUser = options.AdditionalProperties?.TryGetValue(QlaudChatOptionKeys.EndUser, out var user) == true ? user as string : null;
        guard.Settle(reservation, SettledUsage.FromRoute(route, usage, reservation, 0, requestId, endUser));
        return result;
    }

    /// <summary>The input estimate of the spend estimator, each value counted as one message of text.</summary>
    private static long EstimateInputTokens(IReadOnlyList<string> inputs)
    {
        var messages = new ChatMessage[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            messages[i] = new ChatMessage(ChatRole.User, inputs[i]);
        }

        return SpendEstimator.EstimateInputTokens(messages);
    }

    /// <summary>The route that answered; the dearest candidate when the result does not say (never under-charges).</summary>
    private static CatalogRoute FindRoute(RoutePlan plan, string? name)
    {
        CatalogRoute? dearest = null;
        foreach (var route in plan.Candidates)
        {
            if (route.Name == name)
            {
                return route;
            }

            if (dearest is null || route.Price.InputMicrosPerMTok > dearest.Price.InputMicrosPerMTok)
            {
                dearest = route;
            }
        }

        return dearest!;
    }
}
