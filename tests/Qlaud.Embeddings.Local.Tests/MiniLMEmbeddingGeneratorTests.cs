using System.Numerics.Tensors;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.Search;

namespace Qlaud.Embeddings.Local.Tests;

/// <summary>The real all-MiniLM-L6-v2 model through <c>AddLocalEmbeddings()</c>.</summary>
public sealed class MiniLMEmbeddingGeneratorTests
{
    [Fact]
    public async Task Generate_Sentences_384DimensionalUnitVectorsWithParaphrasesNearest()
    {
        var services = new ServiceCollection();
        services.AddQlaud().AddLocalEmbeddings();
        await using var provider = services.BuildServiceProvider();
        var generator = provider.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(QlaudSearchDefaults.EmbeddingGeneratorKey);

        var embeddings = await generator.GenerateAsync(["How do I reset my password?", "I forgot my login credentials.", "The tomatoes need more sun."]);
        float[][] v = [.. embeddings.Select(static e => e.Vector.ToArray())];

        Assert.All(v, static x => Assert.Equal(384, x.Length));
        Assert.All(v, static x => Assert.InRange(TensorPrimitives.Norm(x), 0.999f, 1.001f));
        Assert.True(TensorPrimitives.Dot(v[0], v[1]) > TensorPrimitives.Dot(v[0], v[2]) + 0.3f);
        Assert.Equal("all-MiniLM-L6-v2", embeddings[0].ModelId);
        Assert.Equal(384, generator.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelDimensions);
    }

    [Fact]
    public async Task Model_NotLoadedUntilFirstTextToEmbed()
    {
        var services = new ServiceCollection();
        services.AddQlaud().AddLocalEmbeddings();
        await using var provider = services.BuildServiceProvider();
        var generator = Assert.IsType<MiniLMEmbeddingGenerator>(
            provider.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(QlaudSearchDefaults.EmbeddingGeneratorKey));

        Assert.False(generator.IsModelLoaded);
        Assert.Equal(384, generator.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelDimensions);
        Assert.Empty(await generator.GenerateAsync([]));
        Assert.False(generator.IsModelLoaded);

        var embeddings = await generator.GenerateAsync(["The first text loads the model."]);

        Assert.True(generator.IsModelLoaded);
        Assert.Equal(384, embeddings[0].Vector.Length);
    }
}
