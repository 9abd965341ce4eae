using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Qlaud.Connectors.Vault;
using Qlaud.Storage;

namespace Qlaud.Connectors;

/// <summary>OAuth connectors, as the MCP authorization specification describes: protected-resource and authorization-server
/// metadata discovery, dynamic client registration (RFC 7591) unless a client is configured, PKCE S256 and <c>state</c>, the
/// callback on the gateway (<c>/connect/callback</c>), and tokens refreshed before they expire, one refresh at a time per connection.</summary>
internal sealed partial class QlaudConnectors
{
    /// <summary>The gateway path of the OAuth callback.</summary>
    public const string CallbackPath = "connect/callback";

    private static readonly TimeSpan RefreshMargin = TimeSpan.FromSeconds(60);

    /// <summary>Starts the sign-in of an OAuth link: where to send the browser.</summary>
    public async Task<ConnectLinkOutcome> BeginOAuthAsync(string token, Uri gatewayBase, CancellationToken cancellationToken)
    {
        ConnectTokenEntity? link;
        await using (var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
        {
            link = await FindLinkAsync(db, token, cancellationToken).ConfigureAwait(false);
        }

        var state = Check(link);
        if (state.State != ConnectLinkState.Ready || state.Connector!.Auth.Kind != ConnectorAuthKind.OAuth)
        {
            return state.State == ConnectLinkState.Ready ? state with { State = ConnectLinkState.Unavailable } : state;
        }

        var connector = state.Connector;
        var http = httpClients.CreateClient(Mcp.McpConnector.HttpClientName);
        var redirect = new Uri(_publicBase ?? gatewayBase, CallbackPath);
        try
        {
            var resource = await DiscoverResourceAsync(http, connector.Url!, cancellationToken).ConfigureAwait(false);
            var server = await DiscoverAuthorizationServerAsync(http, resource.AuthorizationServer, cancellationToken).ConfigureAwait(false);
            string? clientId = connector.Auth.ClientId, clientSecret = connector.Auth.ClientSecret;
            if (clientId is null)
            {
                if (server.RegistrationEndpoint is null)
                {
                    return state with { State = ConnectLinkState.Refused, Message = $"{connector.Name} needs a client registered beforehand; the operator sets its ClientId." };
                }

                (clientId, clientSecret) = await RegisterClientAsync(http, server.RegistrationEndpoint, redirect, cancellationToken).ConfigureAwait(false);
            }

            string verifier = RandomToken(), oauthState = RandomToken();
            string challenge = Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
            var flow = new OAuthFlowState(verifier, clientId, clientSecret, server.TokenEndpoint, resource.Resource, redirect.AbsoluteUri);
            string flowCipher = vault.ProtectText(link!.AccountId, JsonSerializer.Serialize(flow, OAuthJsonContext.Default.OAuthFlowState));
            string hash = link.TokenHash, stateHash = Hash(oauthState);
            await using (var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
            {
                await db.ConnectTokens.Where(t => t.TokenHash == hash && t.UsedAtMs == null)
                    .ExecuteUpdateAsync(s => s.SetProperty(static t => t.FlowCipher, flowCipher).SetProperty(static t => t.StateHash, stateHash), cancellationToken)
                    .ConfigureAwait(false);
            }

            var query = new StringBuilder(server.AuthorizationEndpoint.AbsoluteUri).Append(server.AuthorizationEndpoint.Query.Length > 0 ? '&' : '?')
                .Append("response_type=code&client_id=").Append(Uri.EscapeDataString(clientId))
                .Append("&redirect_uri=").Append(Uri.EscapeDataString(redirect.AbsoluteUri))
                .Append("&code_challenge=").Append(challenge).Append("&code_challenge_method=S256")
                .Append("&state=").Append(oauthState)
                .Append("&resource=").Append(Uri.EscapeDataString(resource.Resource));
            if (connector.Auth.Scopes.Count > 0)
            {
                query.Append("&scope=").Append(Uri.EscapeDataString(string.Join(' ', connector.Auth.Scopes)));
            }

            return state with { RedirectTo = new Uri(query.ToString()) };
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or InvalidOperationException or UriFormatException or TaskCanceledException
            && !cancellationToken.IsCancellationRequested)
        {
            Log.KeyRefused(logger, connector.Id, ex.GetType().Name);
            return state with { State = ConnectLinkState.Refused, Message = $"Could not start signing in to {connector.Name}: its authorization server did not answer as expected." };
        }
    }

    /// <summary>The OAuth callback: exchanges the code (with the PKCE verifier) and stores the tokens, using up the link.</summary>
    public async Task<ConnectLinkOutcome> CompleteOAuthAsync(string? state, string? code, string? error, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(state) || state.Length > 128)
        {
            return new ConnectLinkOutcome(ConnectLinkState.Unknown);
        }

        ConnectTokenEntity? link;
        string stateHash = Hash(state);
        await using (var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
        {
            link = await db.ConnectTokens.AsNoTracking().SingleOrDefaultAsync(t => t.StateHash == stateHash, cancellationToken).ConfigureAwait(false);
        }

        var outcome = Check(link);
        if (outcome.State != ConnectLinkState.Ready)
        {
            return outcome;
        }

        var connector = outcome.Connector!;
        if (!string.IsNullOrEmpty(error) || string.IsNullOrEmpty(code))
        {
            return outcome with { State = ConnectLinkState.Refused, Message = $"{connector.Name} did not authorize the connection. Open the link again to retry." };
        }

        var flow = vault.UnprotectText(link!.AccountId, link.FlowCipher) is { } json ? JsonSerializer.Deserialize(json, OAuthJsonContext.Default.OAuthFlowState) : null;
        if (flow is null)
        {
            return new ConnectLinkOutcome(ConnectLinkState.Unknown);
        }

        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = flow.RedirectUri, ["client_id"] = flow.ClientId,
            ["code_verifier"] = flow.Verifier, ["resource"] = flow.Resource,
        };
        var tokens = await RequestTokensAsync(flow.TokenEndpoint, flow.ClientId, flow.ClientSecret, form, cancellationToken).ConfigureAwait(false);
        if (tokens is null)
        {
            return outcome with { State = ConnectLinkState.Refused, Message = $"{connector.Name} did not issue tokens for this sign-in. Open the link again to retry." };
        }

        var credential = Credential(tokens, flow.TokenEndpoint, flow.ClientId, flow.ClientSecret, flow.Resource, previousRefresh: null);
        return await StoreAsync(link, connector, credential, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An OAuth connection's credential with an access token that is not about to expire: refreshed when needed, one
    /// refresh at a time per connection on every gateway sharing the database (a single-use rotating refresh token is never sent twice); null when refreshing failed.</summary>
    private async Task<ActiveConnection?> FreshAsync(string accountId, ActiveConnection connection, CancellationToken cancellationToken)
    {
        if (!NeedsRefresh(connection.Credential))
        {
            return connection;
        }

        // One refresh at a time per connection across every gateway on the database (an advisory lock on PostgreSQL).
        var gate = await locks.AcquireAsync("connection-refresh:" + connection.Id, cancellationToken).ConfigureAwait(false);
        try
        {
            // Another call may have refreshed while this one waited: read the connection again.
            ConnectionEntity? row;
            await using (var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
            {
                string id = connection.Id;
                row = await db.Connections.AsNoTracking().SingleOrDefaultAsync(c => c.Id == id, cancellationToken).ConfigureAwait(false);
            }

            if (row is null || row.Status != ConnectionStatus.Active || vault.Unprotect(accountId, row.CredentialCipher) is not { } current)
            {
                return null;
            }

            if (!NeedsRefresh(current))
            {
                return new ActiveConnection(row.Id, row.EndUserId, current, row.CredentialVersion);
            }

            if (current.RefreshToken is null || current.TokenEndpoint is null || current.ClientId is null)
            {
                await MarkErrorAsync(row.Id, row.CredentialVersion, "The access token expired and no refresh token was issued; connect again.", eraseCredentials: true, CancellationToken.None)
                    .ConfigureAwait(false);
                return null;
            }

            var form = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = current.RefreshToken, ["client_id"] = current.ClientId };
            if (current.Resource is not null)
            {
                form["resource"] = current.Resource;
            }

            var tokens = await RequestTokensAsync(current.TokenEndpoint, current.ClientId, current.ClientSecret, form, cancellationToken).ConfigureAwait(false);
            if (tokens is null)
            {
                await MarkErrorAsync(row.Id, row.CredentialVersion, "Refreshing the access token failed; connect again.", eraseCredentials: true, CancellationToken.None).ConfigureAwait(false);
                return null;
            }

            var refreshed = Credential(tokens, current.TokenEndpoint, current.ClientId, current.ClientSecret, current.Resource, current.RefreshToken);
            string cipher = vault.Protect(accountId, refreshed);
            long now = time.GetUtcNow().ToUnixTimeMilliseconds(), version = row.CredentialVersion;
            await using (var db = await factory.CreateDbContextAsync(CancellationToken.None).ConfigureAwait(false))
            {
                string id = row.Id;
                int stored = await db.Connections.Where(c => c.Id == id && c.CredentialVersion == version).ExecuteUpdateAsync(s => s
                    .SetProperty(static c => c.CredentialCipher, cipher)
                    .SetProperty(static c => c.CredentialVersion, version + 1)
                    .SetProperty(static c => c.UpdatedAtMs, now), CancellationToken.None).ConfigureAwait(false);
                if (stored == 0)
                {
                    return null; // revoked or replaced meanwhile
                }
            }

            return new ActiveConnection(row.Id, row.EndUserId, refreshed, version + 1);
        }
        finally
        {
            await gate.DisposeAsync().ConfigureAwait(false);
        }
    }

    private bool NeedsRefresh(ConnectorCredential credential)
        => credential.ExpiresAtMs is { } expires && expires - (long)RefreshMargin.TotalMilliseconds <= time.GetUtcNow().ToUnixTimeMilliseconds();

    private ConnectorCredential Credential(TokenResponse tokens, string tokenEndpoint, string clientId, string? clientSecret, string? resource, string? previousRefresh) => new()
    {
        AccessToken = tokens.AccessToken,
        RefreshToken = tokens.RefreshToken ?? previousRefresh,
        ExpiresAtMs = tokens.ExpiresIn is > 0 ? time.GetUtcNow().ToUnixTimeMilliseconds() + tokens.ExpiresIn.Value * 1000 : null,
        TokenEndpoint = tokenEndpoint,
        ClientId = clientId,
        ClientSecret = clientSecret,
        Resource = resource,
    };

    private async Task<TokenResponse?> RequestTokensAsync(string tokenEndpoint, string clientId, string? clientSecret, Dictionary<string, string> form, CancellationToken cancellationToken)
    {
        var http = httpClients.CreateClient(Mcp.McpConnector.HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Post, tokenEndpoint) { Content = new FormUrlEncodedContent(form) };
        if (clientSecret is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(clientId)}:{Uri.EscapeDataString(clientSecret)}")));
        }

        try
        {
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            var tokens = await response.Content.ReadFromJsonAsync(OAuthJsonContext.Default.TokenResponse, cancellationToken).ConfigureAwait(false);
            return tokens?.AccessToken is { Length: > 0 } ? tokens : null;
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private static async Task<(string Resource, Uri AuthorizationServer)> DiscoverResourceAsync(HttpClient http, Uri server, CancellationToken cancellationToken)
    {
        // An unauthenticated request names the protected-resource metadata in WWW-Authenticate (RFC 9728).
        Uri? metadata = null;
        using (var probe = new HttpRequestMessage(HttpMethod.Post, server)
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"Qlaud","version":"1.0.0"}}}""",
                Encoding.UTF8, "application/json"),
        })
        {
            probe.Headers.Accept.ParseAdd("application/json, text/event-stream");
            using var response = await http.SendAsync(probe, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                foreach (var challenge in response.Headers.WwwAuthenticate)
                {
                    if (ParameterOf(challenge.Parameter, "resource_metadata") is { } url && Uri.TryCreate(url, UriKind.Absolute, out var parsed))
                    {
                        metadata = parsed;
                    }
                }
            }
        }

        metadata ??= new Uri(server, "/.well-known/oauth-protected-resource" + server.AbsolutePath.TrimEnd('/'));
        var document = await http.GetFromJsonAsync(metadata, OAuthJsonContext.Default.ResourceMetadata, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("Empty protected-resource metadata.");
        var authorizationServer = document.AuthorizationServers?.FirstOrDefault() ?? throw new InvalidOperationException("No authorization server in the resource metadata.");
        return (document.Resource ?? server.AbsoluteUri, new Uri(authorizationServer));
    }

    private static async Task<ServerMetadata> DiscoverAuthorizationServerAsync(HttpClient http, Uri issuer, CancellationToken cancellationToken)
    {
        string path = issuer.AbsolutePath.TrimEnd('/');
        foreach (var candidate in (string[])[$"/.well-known/oauth-authorization-server{path}", $"/.well-known/openid-configuration{path}", $"{path}/.well-known/openid-configuration"])
        {
            using var response = await http.GetAsync(new Uri(issuer, candidate), cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                continue;
            }

            var metadata = await response.Content.ReadFromJsonAsync(OAuthJsonContext.Default.ServerMetadataDocument, cancellationToken).ConfigureAwait(false);
            if (metadata?.AuthorizationEndpoint is { } authorize && metadata.TokenEndpoint is { } token)
            {
                if (metadata.CodeChallengeMethodsSupported is { } methods && !methods.Contains("S256"))
                {
                    throw new InvalidOperationException("The authorization server does not support PKCE S256.");
                }

                return new ServerMetadata(new Uri(authorize), token, metadata.RegistrationEndpoint is { } r ? new Uri(r) : null);
            }
        }

        throw new InvalidOperationException("No authorization server metadata.");
    }

    private static async Task<(string ClientId, string? ClientSecret)> RegisterClientAsync(HttpClient http, Uri endpoint, Uri redirect, CancellationToken cancellationToken)
    {
        var registration = new ClientRegistration { RedirectUris = [redirect.AbsoluteUri] };
        using var response = await http.PostAsJsonAsync(endpoint, registration, OAuthJsonContext.Default.ClientRegistration, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var registered = await response.Content.ReadFromJsonAsync(OAuthJsonContext.Default.ClientRegistrationResponse, cancellationToken).ConfigureAwait(false);
        return (registered?.ClientId ?? throw new InvalidOperationException("Dynamic client registration returned no client_id."), registered.ClientSecret);
    }

    private static string? ParameterOf(string? parameters, string name)
    {
        if (parameters is null)
        {
            return null;
        }

        foreach (var part in parameters.Split(','))
        {
            var pair = part.Trim();
            if (pair.StartsWith(name + "=", StringComparison.OrdinalIgnoreCase))
            {
                return pair[(name.Length + 1)..].Trim('"');
            }
        }

        return null;
    }

    private static string RandomToken()
    {
        Span<byte> bytes = stackalloc byte[32];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    private sealed record ServerMetadata(Uri AuthorizationEndpoint, string TokenEndpoint, Uri? RegistrationEndpoint);
}

internal sealed record OAuthFlowState(
    [property: JsonPropertyName("verifier")] string Verifier,
    [property: JsonPropertyName("client_id")] string ClientId,
    [property: JsonPropertyName("client_secret")] string? ClientSecret,
    [property: JsonPropertyName("token_endpoint")] string TokenEndpoint,
    [property: JsonPropertyName("resource")] string Resource,
    [property: JsonPropertyName("redirect_uri")] string RedirectUri);

internal sealed class TokenResponse
{
    [JsonPropertyName("access_token")] public string? AccessToken { get; set; }

    [JsonPropertyName("refresh_token")] public string? RefreshToken { get; set; }

    [JsonPropertyName("expires_in")] public long? ExpiresIn { get; set; }
}

internal sealed class ResourceMetadata
{
    [JsonPropertyName("resource")] public string? Resource { get; set; }

    [JsonPropertyName("authorization_servers")] public List<string>? AuthorizationServers { get; set; }
}

internal sealed class ServerMetadataDocument
{
    [JsonPropertyName("authorization_endpoint")] public string? AuthorizationEndpoint { get; set; }

    [JsonPropertyName("token_endpoint")] public string? TokenEndpoint { get; set; }

    [JsonPropertyName("registration_endpoint")] public string? RegistrationEndpoint { get; set; }

    [JsonPropertyName("code_challenge_methods_supported")] public List<string>? CodeChallengeMethodsSupported { get; set; }
}

internal sealed class ClientRegistration
{
    [JsonPropertyName("client_name")] public string ClientName { get; set; } = "Qlaud";

    [JsonPropertyName("redirect_uris")] public List<string> RedirectUris { get; set; } = [];

    [JsonPropertyName("grant_types")] public List<string> GrantTypes { get; set; } = ["authorization_code", "refresh_token"];

    [JsonPropertyName("response_types")] public List<string> ResponseTypes { get; set; } = ["code"];

    [JsonPropertyName("token_endpoint_auth_method")] public string TokenEndpointAuthMethod { get; set; } = "none";
}

internal sealed class ClientRegistrationResponse
{
    [JsonPropertyName("client_id")] public string? ClientId { get; set; }

    [JsonPropertyName("client_secret")] public string? ClientSecret { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(OAuthFlowState))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(ResourceMetadata))]
[JsonSerializable(typeof(ServerMetadataDocument))]
[JsonSerializable(typeof(ClientRegistration))]
[JsonSerializable(typeof(ClientRegistrationResponse))]
internal sealed partial class OAuthJsonContext : JsonSerializerContext;
