using System.Numerics.Tensors;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.Search;

/// <summary>The embedding generator of search: the one registered under <see cref="QlaudSearchDefaults.EmbeddingGeneratorKey"/>,
/// else Qlaud's own generator asked for <c>Qlaud:Search:EmbeddingModel</c>, else none (keyword search only).</summary>
internal sealed class SearchEmbedder
{
    private readonly IEmbeddingGenerator<string, Embedding<float>>? _generator;
    private readonly EmbeddingGenerationOptions? _options;

    public SearchEmbedder(IServiceProvider services, IOptions<QlaudOptions> options)
    {
        _generator = services.GetKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(QlaudSearchDefaults.EmbeddingGeneratorKey);
        if (_generator is null && options.Value.Search.EmbeddingModel is { } model)
        {
            var catalog = services.GetRequiredService<Catalog.ModelCatalog>();
            if (!catalog.TryGetModel(model, out var entry) || !entry.IsEmbedding)
            {
                throw new OptionsValidationException(QlaudOptions.SectionName, typeof(QlaudOptions),
                    [$"Qlaud:Search:EmbeddingModel '{model}' is not an embedding model of the catalog (GET /v1/catalog lists them)."]);
            }

            _generator = services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
            _options = new EmbeddingGenerationOptions { ModelId = model };
        }
    }

    /// <summary>Whether semantic search is available.</summary>
    public bool Available => _generator is not null;

    /// <summary>Unit-length embeddings of <paramref name="texts"/>, in order.</summary>
    public async Task<float[][]> EmbedAsync(IList<string> texts, CancellationToken cancellationToken)
    {
        var generator = _generator ?? throw new InvalidOperationException("No embedding generator is configured for search.");
        var embeddings = await generator.GenerateAsync(texts, _options, cancellationToken).ConfigureAwait(false);
        if (embeddings.Count != texts.Count)
        {
            throw new InvalidOperationException($"The embedding generator returned {embeddings.Count} embeddings for {texts.Count} texts.");
        }

        var vectors = new float[texts.Count][];
        for (int i = 0; i < vectors.Length; i++)
        {
            var vector = embeddings[i].Vector.ToArray();
            float norm = TensorPrimitives.Norm(vector);
            if (norm > 0 && MathF.Abs(norm - 1) > 1e-4f)
            {
                TensorPrimitives.Divide(vector, norm, vector);
            }

            vectors[i] = vector;
        }

        return vectors;
    }
}
