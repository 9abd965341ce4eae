using Microsoft.Extensions.AI;
using Qlaud.Metering;
using Qlaud.Routing;

namespace Qlaud.Embeddings;

/// <summary>
/// Meters in-process embedding calls as <see cref="MeteringChatClient"/> meters chat: resolves the caller
/// (<see cref="QlaudChatOptionKeys"/> in <see cref="EmbeddingGenerationOptions.AdditionalProperties"/>, or
/// <see cref="QlaudCallScope"/>), reserves the input estimate at the worst case of the same routing selection the inner
/// generator runs (the model, its <see cref="QlaudChatOptions.Models"/> fallbacks and provider preferences) before calling it,
/// and settles through <see cref="MeteredCall"/>, the settle table of every path, at the route that answered.
/// </summary>
/// <remarks>
/// <para>Over a cap, an empty enforced wallet or a rate limit, <see cref="QlaudException"/> is thrown before the inner
/// generator is called. An embedding model generates no tokens, so nothing is reserved for output.</para>
/// <para>Billing (<see cref="MeteredCall"/>): the result is charged for the <c>prompt_tokens</c> it reports, else for the input
/// estimate (logged as estimated), at the route that served it (a fallback model's route included). Every attempt failing, an
/// upstream error, or a fault inside the gateway releases the reservation. Cancelled by the caller while a provider was
/// working: the input estimate (providers bill the input they processed). The inner Qlaud generator reports its attempts to
/// the call; another inner generator is charged at the route its result names in <see cref="QlaudResponseProperties.Route"/>,
/// else at the dearest candidate. Each metered call gets a request id (<see cref="QlaudResponseProperties.RequestId"/> on the
/// result), the <c>request_id</c> of its ledger entry.</para>
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
        var call = await ReserveAsync(inputs, options, cancellationToken).ConfigureAwait(false);
        if (call is null)
        {
            return await base.GenerateAsync(inputs, options, cancellationToken).ConfigureAwait(false);
        }

        return await call.RunAsync((Generator: this, Inputs: inputs, Options: options), static (s, ct) => s.Generator.InnerGenerateAsync(s.Inputs, s.Options, ct),
            static (call, result) =>
            {
                var properties = result.AdditionalProperties ??= [];
                properties[QlaudResponseProperties.RequestId] = call.RequestId;
                call.ReportUsage(result.Usage is { } details ? TokenUsage.From(details) : null);
                call.GeneratedOutputTokens = 0;
                call.Delivered(MeteredCall.AnsweringRoute(properties));
            }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Resolves the caller and reserves the worst case of the routing selection the inner generator will run; null when there
    /// is nothing to embed or the request cannot be routed to an embedding model (the inner generator reports why).
    /// </summary>
    private async ValueTask<MeteredCall?> ReserveAsync(IReadOnlyList<string> inputs, EmbeddingGenerationOptions? options, CancellationToken cancellationToken)
    {
        var caller = await callers.ResolvePropertiesOrThrowAsync(options?.AdditionalProperties, cancellationToken).ConfigureAwait(false);
        var routing = RoutingRequest.FromEmbeddingOptions(options);
        if (options is null || inputs.Count == 0 || string.IsNullOrWhiteSpace(options.ModelId) && routing is not { Models.Count: > 0 })
        {
            return null;
        }

        var selection = router.Select(options.ModelId, routing, QlaudEmbeddingGenerator.Traits(inputs));
        if (selection.Error is not null)
        {
            return null;
        }

        string? endUser = options.AdditionalProperties?.TryGetValue(QlaudChatOptionKeys.EndUser, out var user) == true ? user as string : null;
        var (call, refusal) = await MeteredCall.ReserveAsync(guard, caller, selection.Candidates, router.Catalog, EstimateInputTokens(inputs), 0,
            Diagnostics.RequestIds.New(), endUser, cancellationToken).ConfigureAwait(false);
        return call ?? throw new QlaudException(refusal!);
    }

    private Task<GeneratedEmbeddings<Embedding<float>>> InnerGenerateAsync(IReadOnlyList<string> inputs, EmbeddingGenerationOptions? options, CancellationToken cancellationToken)
        => base.GenerateAsync(inputs, options, cancellationToken);

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
}
