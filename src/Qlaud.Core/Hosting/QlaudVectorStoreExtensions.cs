using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.VectorData;
using Qlaud.Search;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Plugs a <c>Microsoft.Extensions.VectorData</c> collection in as the store of search's message vectors.</summary>
public static class QlaudVectorStoreExtensions
{
    /// <summary>
    /// Keeps the chunk vectors of indexed thread messages in <paramref name="collection"/> instead of Qlaud's in-memory index:
    /// Qlaud upserts them as messages are indexed, deletes them with their thread, end user (erase) or retention, and runs
    /// semantic search through the collection's <c>SearchAsync</c> with the caller's scope (account, end user, key, thread,
    /// time) as its filter. Call before or after <c>AddQlaud()</c>.
    /// </summary>
    /// <remarks>The collection is created if missing (<c>EnsureCollectionExistsAsync</c>) on first use. Vectors are still
    /// written to Qlaud's search store with their message, but are not loaded into memory at start-up.</remarks>
    public static IServiceCollection AddQlaudVectorStore(this IServiceCollection services, VectorStoreCollection<string, QlaudVectorRecord> collection)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(collection);
        services.RemoveAll<ISearchVectors>();
        services.AddSingleton<ISearchVectors>(new VectorStoreCollectionVectors(collection));
        return services;
    }
}
