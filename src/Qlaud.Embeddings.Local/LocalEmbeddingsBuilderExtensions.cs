using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Qlaud.Embeddings.Local;
using Qlaud.Hosting;
using Qlaud.Search;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers offline embeddings for Qlaud's semantic search.</summary>
public static class LocalEmbeddingsBuilderExtensions
{
    /// <summary>
    /// Makes search semantic and hybrid without any provider: messages and queries are embedded in process by the
    /// all-MiniLM-L6-v2 model (384 dimensions, about 15 ms a sentence on two cores), registered as the keyed
    /// <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> <see cref="QlaudSearchDefaults.EmbeddingGeneratorKey"/>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddQlaud()</c>.</param>
    /// <param name="intraOpThreads">Threads ONNX Runtime uses for one call; 0 (the default) lets it use every core.</param>
    /// <returns>The builder.</returns>
    /// <remarks>The model loads (about 0.4 s, and over 300 MB resident) on the first text to embed: the first message the search
    /// indexer embeds in the background, or the first semantic query; not at start-up. An embedding generator already registered
    /// under the key wins; <c>Qlaud:Search:EmbeddingModel</c> is not used while one is registered.</remarks>
    public static IQlaudBuilder AddLocalEmbeddings(this IQlaudBuilder builder, int intraOpThreads = 0)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfNegative(intraOpThreads);
        builder.Services.TryAddKeyedSingleton<IEmbeddingGenerator<string, Embedding<float>>>(QlaudSearchDefaults.EmbeddingGeneratorKey,
            (_, _) => new MiniLMEmbeddingGenerator(intraOpThreads));
        return builder;
    }
}
