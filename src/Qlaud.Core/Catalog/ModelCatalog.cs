using System.Collections.Frozen;
using System.Collections.Immutable;

namespace Qlaud.Catalog;

/// <summary>The immutable catalog: providers and models after the built-in file and configuration were merged and validated.</summary>
public sealed class ModelCatalog
{
    private readonly FrozenDictionary<string, CatalogModel> _byId;

    internal ModelCatalog(IEnumerable<CatalogProvider> providers, IEnumerable<CatalogModel> models)
    {
        Providers = providers.ToFrozenDictionary(static p => p.Name, StringComparer.OrdinalIgnoreCase);
        Models = [.. models.OrderBy(static m => m.Id, StringComparer.Ordinal)];
        _byId = Models.ToFrozenDictionary(static m => m.Id, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Providers by name.</summary>
    public FrozenDictionary<string, CatalogProvider> Providers { get; }

    /// <summary>All models, ordered by id.</summary>
    public ImmutableArray<CatalogModel> Models { get; }

    /// <summary>Finds a model by its slug (case-insensitive).</summary>
    public bool TryGetModel(string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CatalogModel? model)
        => _byId.TryGetValue(id, out model);

    /// <summary>Finds a model by its slug given as UTF-8 without allocating a string for known ids.</summary>
    internal bool TryGetModel(ReadOnlySpan<char> id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CatalogModel? model)
        => _byId.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(id, out model);
}
