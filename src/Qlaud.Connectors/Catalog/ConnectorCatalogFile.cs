using System.Text.Json.Serialization;

namespace Qlaud.Connectors;

/// <summary>The shape of the built-in <c>connectors.json</c>.</summary>
internal sealed class ConnectorCatalogFile
{
    [JsonPropertyName("connectors")]
    public List<Entry> Connectors { get; set; } = [];

    internal sealed class Entry
    {
        [JsonPropertyName("id")] public string Id { get; set; } = "";

        [JsonPropertyName("name")] public string Name { get; set; } = "";

        [JsonPropertyName("description")] public string Description { get; set; } = "";

        [JsonPropertyName("categories")] public List<string> Categories { get; set; } = [];

        [JsonPropertyName("url")] public string Url { get; set; } = "";

        [JsonPropertyName("transport")] public string Transport { get; set; } = "";

        [JsonPropertyName("auth")] public AuthEntry Auth { get; set; } = new();

        [JsonPropertyName("documentation")] public string? Documentation { get; set; }

        [JsonPropertyName("source")] public string? Source { get; set; }
    }

    internal sealed class AuthEntry
    {
        [JsonPropertyName("kind")] public string Kind { get; set; } = "none";

        [JsonPropertyName("header")] public string? Header { get; set; }

        [JsonPropertyName("prefix")] public string? Prefix { get; set; }

        [JsonPropertyName("client_registration")] public string? ClientRegistration { get; set; }
    }
}

[JsonSourceGenerationOptions(ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip)]
[JsonSerializable(typeof(ConnectorCatalogFile))]
internal sealed partial class ConnectorCatalogJsonContext : JsonSerializerContext;
