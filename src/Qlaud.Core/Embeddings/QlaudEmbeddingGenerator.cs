using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Catalog;
using Qlaud.Forwarding;
using Qlaud.Providers;
using Qlaud.Routing;

namespace Qlaud.Embeddings;

/// <summary>
/// The in-process embeddings gateway: an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> that routes by
/// <see cref="EmbeddingGenerationOptions.ModelId"/> (an embedding model's catalog slug) through the same router, attempt policy
/// and providers as <c>POST /v1/embeddings</c>, next to the in-process <see cref="IChatClient"/>.
/// </summary>
/// <remarks>
/// <para>Fallback models and provider preferences come from <see cref="EmbeddingGenerationOptions.AdditionalProperties"/> under the
/// keys of <see cref="QlaudChatOptions"/>; <see cref="QlaudChatOptionKeys.EndUser"/> is also sent as OpenAI's <c>user</c>.
/// <see cref="EmbeddingGenerationOptions.Dimensions"/> is sent as <c>dimensions</c>. The result carries
/// <see cref="GeneratedEmbeddings{TEmbedding}.Usage"/> (the upstream's <c>prompt_tokens</c>) and the serving route, attempts and
/// cost under the keys of <see cref="QlaudResponseProperties"/>.</para>
/// <para>Failures throw <see cref="QlaudException"/>: a chat model is a 400, a retryable failure (transport error, timeout,
/// 408/409/429/5xx) is retried with back-off and then moves to the next route or model.</para>
/// </remarks>
internal sealed class QlaudEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly Router _router;
    private readonly UpstreamClient _upstream;
    private readonly AttemptPolicy _policy;

    public QlaudEmbeddingGenerator(Router router, UpstreamClient upstream, AttemptPolicy policy)
    {
        _router = router;
        _upstream = upstream;
        _policy = policy;
    }

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var routing = RoutingRequest.FromEmbeddingOptions(options);
        if (string.IsNullOrWhiteSpace(options?.ModelId) && routing is not { Models.Count: > 0 })
        {
            throw new ArgumentException("Set EmbeddingGenerationOptions.ModelId to an embedding model's catalog slug (for example 'text-embedding-3-small').", nameof(options));
        }

        var inputs = values as IReadOnlyList<string> ?? [.. values];
        if (inputs.Count == 0)
        {
            return new GeneratedEmbeddings<Embedding<float>>();
        }

        var selection = _router.Select(options!.ModelId, routing, Traits(inputs));
        if (selection.Error is { } error)
        {
            throw new QlaudException(error);
        }

        string? user = options.AdditionalProperties?.TryGetValue(QlaudChatOptionKeys.EndUser, out var u) == true ? u as string : null;
        var scope = new EmbeddingScope(this, inputs, options.Dimensions, user) { Meter = Metering.MeteredCall.Current };
        var summary = await _policy.RunAsync(scope, selection.Candidates, static (s, ct) => s.Generator.AttemptAsync(s, ct), cancellationToken).ConfigureAwait(false);
        if (!summary.Completed)
        {
            throw new QlaudException(summary.Error!);
        }

        if (scope.Error is { } answered)
        {
            throw new QlaudException(answered);
        }

        var result = scope.Result!;
        var route = summary.Route!;
        var properties = result.AdditionalProperties ??= [];
        properties[QlaudResponseProperties.Route] = route.Name;
        properties[QlaudResponseProperties.Attempts] = summary.Attempts;
        properties[QlaudResponseProperties.CostMicros] = scope.Usage is { } usage ? route.Price.Cost(usage) : 0L;
        return result;
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this
            : serviceKey is null && serviceType == typeof(ModelCatalog) ? _router.Catalog
            : serviceKey is null && serviceType == typeof(EmbeddingGeneratorMetadata) ? new EmbeddingGeneratorMetadata("qlaud")
            : null;
    }

    public void Dispose()
    {
        // Owned by the DI container; nothing to release per generator.
    }

    /// <summary>What the router weighs for <paramref name="values"/>: an embeddings request of their UTF-8 size at 4 bytes a token.</summary>
    /// <exception cref="ArgumentException">A value is null.</exception>
    internal static RequestTraits Traits(IReadOnlyList<string> values)
    {
        long bytes = 0;
        for (int i = 0; i < values.Count; i++)
        {
            bytes += Encoding.UTF8.GetByteCount(values[i] ?? throw new ArgumentException("The values must not contain null.", nameof(values)));
        }

        return RequestTraits.ForEmbeddings(bytes / 4);
    }

    /// <summary>One attempt: send the request to the route's <c>/embeddings</c>, judge the status, read the whole answer.</summary>
    private async ValueTask<AttemptResult> AttemptAsync(EmbeddingScope scope, CancellationToken cancellationToken)
    {
        var route = scope.Route;
        using var body = new PooledBufferWriter();
        using (var writer = new Utf8JsonWriter(body))
        {
            EmbeddingsWire.WriteRequest(writer, route.UpstreamModel, scope.Inputs, scope.Dimensions, scope.User);
        }

        using var deadline = new UpstreamDeadline(_policy.Health.Time, cancellationToken);
        scope.MarkSent();
        using var result = await _upstream.SendEmbeddingsAsync(route, body.WrittenMemory, deadline).ConfigureAwait(false);
        if (result.Failure is { } failure)
        {
            return AttemptResult.Retry(new QlaudError(failure.Kind, failure.Message), failure.ErrorType);
        }

        var response = result.Response!;
        int status = (int)response.StatusCode;
        var content = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
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
            var (embeddings, usage) = EmbeddingsWire.ReadResponse(whole.WrittenSpan, scope.Inputs.Count, _policy.Health.Time.GetUtcNow());
            scope.Result = embeddings;
            scope.SetUsage(usage);
            scope.SetResponseModel(embeddings.Count > 0 ? embeddings[0].ModelId : null);
            return AttemptResult.Success();
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return AttemptResult.Retry(new QlaudError(QlaudErrorKind.UpstreamError, $"The provider '{route.Provider.Name}' answered with a body Qlaud could not read as embeddings: {ex.Message}"), "invalid_response");
        }
    }

    /// <summary>One in-process embeddings request's run over its routes.</summary>
    private sealed class EmbeddingScope(QlaudEmbeddingGenerator generator, IReadOnlyList<string> inputs, int? dimensions, string? user) : AttemptScope
    {
        public QlaudEmbeddingGenerator Generator { get; } = generator;

        public IReadOnlyList<string> Inputs { get; } = inputs;

        public int? Dimensions { get; } = dimensions;

        public string? User { get; } = user;

        /// <summary>The embeddings, once a route answered.</summary>
        public GeneratedEmbeddings<Embedding<float>>? Result { get; set; }

        /// <summary>An upstream error the caller receives as is (for example a 400).</summary>
        public QlaudError? Error { get; set; }
    }
}
