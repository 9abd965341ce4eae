using System.Collections.Immutable;

namespace Qlaud.Catalog;

/// <summary>A model in the catalog, with its routes in priority order.</summary>
/// <param name="Id">The slug clients send.</param>
/// <param name="Name">A display name.</param>
/// <param name="Owner">Who made the model.</param>
/// <param name="ContextLength">The maximum context in tokens.</param>
/// <param name="MaxOutputTokens">The maximum output tokens.</param>
/// <param name="Capabilities">What the model can do.</param>
/// <param name="Routes">Every route, in priority order, available or not.</param>
public sealed record CatalogModel(string Id, string Name, string Owner, int ContextLength, int MaxOutputTokens,
    ModelCapabilities Capabilities, ImmutableArray<CatalogRoute> Routes)
{
    /// <summary>Whether this is an embedding model (capability <c>embeddings</c>): it serves embeddings requests and no chat.</summary>
    public bool IsEmbedding => (Capabilities & ModelCapabilities.Embeddings) != 0;

    /// <summary>Whether this is an image generation model (capability <c>images</c>): it serves image requests and no chat.</summary>
    public bool IsImage => (Capabilities & ModelCapabilities.Images) != 0;

    /// <summary>Whether any route's provider is available.</summary>
    public bool IsAvailable
    {
        get
        {
            foreach (var route in Routes)
            {
                if (route.Provider.IsAvailable)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
