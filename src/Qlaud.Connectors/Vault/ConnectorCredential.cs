using System.Text.Json.Serialization;

namespace Qlaud.Connectors.Vault;

/// <summary>What a connection holds to authenticate to its server; stored only protected (<see cref="CredentialVault"/>).</summary>
internal sealed record ConnectorCredential
{
    /// <summary>The key or token an end user pasted (<c>api_key</c>, <c>bearer</c>).</summary>
    [JsonPropertyName("secret")] public string? Secret { get; init; }

    /// <summary>OAuth access token.</summary>
    [JsonPropertyName("access_token")] public string? AccessToken { get; init; }

    /// <summary>OAuth refresh token (possibly single use: a refresh replaces it).</summary>
    [JsonPropertyName("refresh_token")] public string? RefreshToken { get; init; }

    /// <summary>When the access token expires (Unix ms); null when the server did not say.</summary>
    [JsonPropertyName("expires_at_ms")] public long? ExpiresAtMs { get; init; }

    /// <summary>The authorization server's token endpoint, for refreshing.</summary>
    [JsonPropertyName("token_endpoint")] public string? TokenEndpoint { get; init; }

    /// <summary>The OAuth client the tokens were issued to (dynamically registered or configured).</summary>
    [JsonPropertyName("client_id")] public string? ClientId { get; init; }

    /// <summary>The OAuth client's secret, when it has one.</summary>
    [JsonPropertyName("client_secret")] public string? ClientSecret { get; init; }

    /// <summary>The resource indicator (RFC 8707) the tokens were asked for.</summary>
    [JsonPropertyName("resource")] public string? Resource { get; init; }

    /// <summary>The value sent in the connector's auth header (prefix included).</summary>
    public string? HeaderValue(ConnectorAuth auth) => auth.Kind switch
    {
        ConnectorAuthKind.ApiKey or ConnectorAuthKind.Bearer when Secret is not null => auth.Prefix + Secret,
        ConnectorAuthKind.OAuth when AccessToken is not null => "Bearer " + AccessToken,
        _ => null,
    };
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ConnectorCredential))]
internal sealed partial class VaultJsonContext : JsonSerializerContext;
