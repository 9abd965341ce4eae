using System.Text.Json.Serialization;
using Qlaud.Configuration;

namespace Qlaud.Catalog;

/// <summary>The shape of the built-in <c>catalog.json</c>: the same records as configuration, in camelCase.</summary>
internal sealed class CatalogFile
{
    public Dictionary<string, ProviderOptions> Providers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public List<ModelOptions> Models { get; set; } = [];
}

[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(CatalogFile))]
internal sealed partial class CatalogJsonContext : JsonSerializerContext;
