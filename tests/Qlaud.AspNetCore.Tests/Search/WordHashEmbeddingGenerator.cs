using System.Numerics.Tensors;
using Microsoft.Extensions.AI;

namespace Qlaud.AspNetCore.Tests.Search;

/// <summary>Embeds text as a normalized bag of hashed words (384-d): texts sharing words are near.</summary>
internal sealed class WordHashEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var embeddings = new GeneratedEmbeddings<Embedding<float>>();
        foreach (string value in values)
        {
            var vector = new float[384];
            vector[383] = 0.01f;
            foreach (string word in value.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                vector[(int)((uint)string.GetHashCode(word, StringComparison.Ordinal) % 383)] += 1;
            }

            TensorPrimitives.Divide(vector, TensorPrimitives.Norm(vector), vector);
            embeddings.Add(new Embedding<float>(vector));
        }

        return Task.FromResult(embeddings);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
