using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Connectors.Mcp;
using Qlaud.Connectors.Vault;
using Qlaud.Storage;

namespace Qlaud.Connectors;

/// <summary>The connections service behind <see cref="IQlaudConnectors"/>, the hosted connect page and the tool loop.</summary>
internal sealed partial class QlaudConnectors(ConnectorCatalog catalog, IDbContextFactory<QlaudDbContext> factory, CredentialVault vault, McpConnector mcp,
    ToolIndex tools, IOptions<ConnectorsOptions> options, TimeProvider time, ILogger<QlaudConnectors> logger, IHttpClientFactory httpClients,
    Qlaud.Threads.IThreadTurnLock locks) : IQlaudConnectors
{
    private readonly TimeSpan _linkLifetime = TimeSpan.FromMinutes(options.Value.ConnectLinkMinutes);
    private readonly Uri? _publicBase = options.Value.PublicBaseUrl is { Length: > 0 } b ? new Uri(b.TrimEnd('/') + "/") : null;

    public ConnectorCatalog Catalog => catalog;

    public async Task<IReadOnlyList<ConnectorStatus>> ListConnectorsAsync(QlaudCaller caller, string? endUserId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        string endUser = EndUserFor(caller, endUserId);
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var connections = await db.Connections.AsNoTracking().Where(c => c.AccountId == caller.AccountId && c.EndUserId == endUser)
            .ToDictionaryAsync(static c => c.ConnectorId, StringComparer.OrdinalIgnoreCase, cancellationToken).ConfigureAwait(false);
        var list = new List<ConnectorStatus>();
        foreach (var connector in catalog.For(caller.AccountId))
        {
            list.Add(new ConnectorStatus(connector, connections.TryGetValue(connector.Id, out var c) ? ToConnection(c, connector) : null));
        }

        return list;
    }

    public async Task<ConnectLink> CreateConnectLinkAsync(QlaudCaller caller, string connectorId, string? endUserId = null, Uri? gatewayBaseUri = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(connectorId);
        string endUser = EndUserFor(caller, endUserId);
        var connector = catalog.Find(caller.AccountId, connectorId)
            ?? throw new QlaudException(new QlaudError(QlaudErrorKind.NotFound, $"No connector '{connectorId}' is available to this account.", "connector_not_found"));
        if (connector.Auth.Kind == ConnectorAuthKind.None)
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest,
                $"The connector '{connector.Id}' needs no connection: its tools work without credentials.", "connection_not_needed"));
        }

        var baseUri = _publicBase ?? gatewayBaseUri
            ?? throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest,
                "The gateway's public URL is unknown: set Qlaud:Connectors:PublicBaseUrl to mint connect links outside an HTTP request."));
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        Span<byte> secret = stackalloc byte[32];
        RandomNumberGenerator.Fill(secret);
        string token = Base64Url.EncodeToString(secret);
        CryptographicOperations.ZeroMemory(secret);

        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var connection = await db.Connections.SingleOrDefaultAsync(c => c.AccountId == caller.AccountId && c.EndUserId == endUser && c.ConnectorId == connector.Id,
            cancellationToken).ConfigureAwait(false);
        if (connection is null)
        {
            connection = new ConnectionEntity
            {
                Id = NewConnectionId(), AccountId = caller.AccountId, EndUserId = endUser, ConnectorId = connector.Id, ServerUrl = connector.Address,
                Status = ConnectionStatus.Pending, CreatedAtMs = now, UpdatedAtMs = now,
            };
            db.Connections.Add(connection);
        }
        else if (connection.Status != ConnectionStatus.Active)
        {
            // A revoked or broken connection starts again from pending; an active one stays usable until the link replaces it.
            connection.Status = ConnectionStatus.Pending;
            connection.Error = null;
            connection.UpdatedAtMs = now;
        }

        long expires = now + (long)_linkLifetime.TotalMilliseconds;
        db.ConnectTokens.Add(new ConnectTokenEntity
        {
            TokenHash = Hash(token), ConnectionId = connection.Id, AccountId = caller.AccountId, EndUserId = endUser, ConnectorId = connector.Id,
            CreatedAtMs = now, ExpiresAtMs = expires,
        });
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        Log.LinkMinted(logger, connector.Id, connection.Id);
        return new ConnectLink(connection.Id, connector.Id, NullIfEmpty(endUser), new Uri(baseUri, "connect/" + token), expires);
    }

    public async Task<IReadOnlyList<QlaudConnection>> ListConnectionsAsync(QlaudCaller caller, string? endUserId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var query = db.Connections.AsNoTracking().Where(c => c.AccountId == caller.AccountId);
        if (!caller.SeesAccount || endUserId is not null)
        {
            string endUser = EndUserFor(caller, endUserId);
            query = query.Where(c => c.EndUserId == endUser);
        }

        var rows = await query.OrderBy(static c => c.CreatedAtMs).ThenBy(static c => c.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => ToConnection(r, catalog.TryGet(r.ConnectorId, out var d) ? d : null))];
    }

    public async Task<bool> DeleteConnectionAsync(QlaudCaller caller, string connectionId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(connectionId);
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var query = db.Connections.Where(c => c.Id == connectionId && c.AccountId == caller.AccountId);
        if (!caller.SeesAccount)
        {
            string endUser = caller.EndUserId ?? "";
            query = query.Where(c => c.EndUserId == endUser);
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        int changed = await query.ExecuteUpdateAsync(s => s
            .SetProperty(static c => c.Status, ConnectionStatus.Revoked)
            .SetProperty(static c => c.CredentialCipher, (string?)null)
            .SetProperty(static c => c.CredentialVersion, static c => c.CredentialVersion + 1)
            .SetProperty(static c => c.Error, (string?)null)
            .SetProperty(static c => c.UpdatedAtMs, now), cancellationToken).ConfigureAwait(false);
        if (changed > 0)
        {
            await db.ConnectTokens.Where(t => t.ConnectionId == connectionId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            Log.Revoked(logger, connectionId);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed > 0;
    }

    /// <summary>What a connect link is, for the hosted page.</summary>
    public async Task<ConnectLinkOutcome> OpenLinkAsync(string token, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var link = await FindLinkAsync(db, token, cancellationToken).ConfigureAwait(false);
        return Check(link);
    }

    /// <summary>Validates a pasted key by listing the server's tools with it, then stores it encrypted and uses up the link.
    /// A refused key stores nothing and leaves the link usable.</summary>
    public async Task<ConnectLinkOutcome> SubmitKeyAsync(string token, string secret, CancellationToken cancellationToken)
    {
        ConnectTokenEntity? link;
        await using (var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
        {
            link = await FindLinkAsync(db, token, cancellationToken).ConfigureAwait(false);
        }

        var state = Check(link);
        if (state.State != ConnectLinkState.Ready)
        {
            return state;
        }

        var connector = state.Connector!;
        if (connector.Auth.Kind is not (ConnectorAuthKind.ApiKey or ConnectorAuthKind.Bearer))
        {
            return state with { State = ConnectLinkState.Unavailable };
        }

        secret = secret.Trim();
        if (secret.Length is 0 or > 8192)
        {
            return state with { State = ConnectLinkState.Refused, Message = "Paste the key: it is empty or too long." };
        }

        var credential = new ConnectorCredential { Secret = secret };
        IReadOnlyList<ConnectorTool> listed;
        try
        {
            listed = await mcp.ListToolsAsync(connector, credential.HeaderValue(connector.Auth), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Log.KeyRefused(logger, connector.Id, ex.GetType().Name);
            return state with { State = ConnectLinkState.Refused, Message = Refusal(connector, ex) };
        }

        tools.Remember(connector, listed);
        return await StoreAsync(link!, connector, credential, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Uses up the link and stores the credential in one transaction; a link used meanwhile stores nothing.</summary>
    internal async Task<ConnectLinkOutcome> StoreAsync(ConnectTokenEntity link, ConnectorDefinition connector, ConnectorCredential credential, CancellationToken cancellationToken)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        string cipher = vault.Protect(link.AccountId, credential);
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        string hash = link.TokenHash;
        int used = await db.ConnectTokens.Where(t => t.TokenHash == hash && t.UsedAtMs == null && t.ExpiresAtMs > now)
            .ExecuteUpdateAsync(s => s.SetProperty(static t => t.UsedAtMs, now), cancellationToken).ConfigureAwait(false);
        if (used == 0)
        {
            return new ConnectLinkOutcome(ConnectLinkState.Used, connector, link.EndUserId);
        }

        string id = link.ConnectionId, address = connector.Address;
        int stored = await db.Connections.Where(c => c.Id == id).ExecuteUpdateAsync(s => s
            .SetProperty(static c => c.Status, ConnectionStatus.Active)
            .SetProperty(static c => c.CredentialCipher, cipher)
            .SetProperty(static c => c.CredentialVersion, static c => c.CredentialVersion + 1)
            .SetProperty(static c => c.ServerUrl, address)
            .SetProperty(static c => c.Error, (string?)null)
            .SetProperty(static c => c.UpdatedAtMs, now), cancellationToken).ConfigureAwait(false);
        if (stored == 0)
        {
            // The connection was erased (its end user deleted) while the page was open.
            return new ConnectLinkOutcome(ConnectLinkState.Unknown);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        Log.Connected(logger, connector.Id, id);
        return new ConnectLinkOutcome(ConnectLinkState.Connected, connector, link.EndUserId);
    }

    /// <summary>The end user's active connection to a connector with its credential, for a tool call; null when there is none
    /// usable. A connection whose credentials were issued for another server address is never used.</summary>
    internal async Task<ActiveConnection?> FindActiveAsync(string accountId, string endUserId, ConnectorDefinition connector, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        string id = connector.Id;
        var row = await db.Connections.AsNoTracking().SingleOrDefaultAsync(c => c.AccountId == accountId && c.EndUserId == endUserId && c.ConnectorId == id, cancellationToken)
            .ConfigureAwait(false);
        if (row is null || row.Status != ConnectionStatus.Active)
        {
            return null;
        }

        if (!string.Equals(row.ServerUrl, connector.Address, StringComparison.Ordinal))
        {
            await MarkErrorAsync(row.Id, row.CredentialVersion, "The connector's server address changed; connect again.", eraseCredentials: true, cancellationToken).ConfigureAwait(false);
            return null;
        }

        var credential = vault.Unprotect(accountId, row.CredentialCipher);
        if (credential is null)
        {
            return null;
        }

        var active = new ActiveConnection(row.Id, row.EndUserId, credential, row.CredentialVersion);
        return connector.Auth.Kind == ConnectorAuthKind.OAuth ? await FreshAsync(accountId, active, cancellationToken).ConfigureAwait(false) : active;
    }

    /// <summary>Statuses of an end user's connections by connector id.</summary>
    internal async Task<Dictionary<string, string>> StatusesAsync(string accountId, string endUserId, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Connections.AsNoTracking().Where(c => c.AccountId == accountId && c.EndUserId == endUserId)
            .ToDictionaryAsync(static c => c.ConnectorId, static c => c.Status, StringComparer.OrdinalIgnoreCase, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Marks a connection broken, when its credentials are still the version the caller used.</summary>
    internal async Task MarkErrorAsync(string connectionId, long version, string error, bool eraseCredentials, CancellationToken cancellationToken)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = db.Connections.Where(c => c.Id == connectionId && c.CredentialVersion == version);
        if (eraseCredentials)
        {
            await rows.ExecuteUpdateAsync(s => s.SetProperty(static c => c.Status, ConnectionStatus.Error).SetProperty(static c => c.Error, error)
                .SetProperty(static c => c.CredentialCipher, (string?)null).SetProperty(static c => c.CredentialVersion, static c => c.CredentialVersion + 1)
                .SetProperty(static c => c.UpdatedAtMs, now), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await rows.ExecuteUpdateAsync(s => s.SetProperty(static c => c.Status, ConnectionStatus.Error).SetProperty(static c => c.Error, error)
                .SetProperty(static c => c.UpdatedAtMs, now), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Records that a connection was used by a tool call.</summary>
    internal async Task TouchAsync(string connectionId, CancellationToken cancellationToken)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await db.Connections.Where(c => c.Id == connectionId).ExecuteUpdateAsync(s => s.SetProperty(static c => c.LastUsedAtMs, now), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The end user a call acts for: a key with an end user acts for it alone; an account-wide key for the one it names.</summary>
    internal static string EndUserFor(QlaudCaller caller, string? requested)
    {
        if (requested is { Length: > 256 })
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, "'end_user_id' is longer than 256 characters."));
        }

        if (!caller.SeesAccount)
        {
            if (requested is not null && requested != caller.EndUserId)
            {
                throw new QlaudException(new QlaudError(QlaudErrorKind.Permission, "This key may act only for its own end user.", "end_user_mismatch"));
            }

            return caller.EndUserId ?? "";
        }

        return requested ?? caller.EndUserId ?? "";
    }

    internal static string Hash(string token)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(token), hash);
        return Convert.ToHexStringLower(hash);
    }

    internal async Task<ConnectTokenEntity?> FindLinkAsync(QlaudDbContext db, string token, CancellationToken cancellationToken)
    {
        if (token.Length is < 40 or > 64)
        {
            return null;
        }

        string hash = Hash(token);
        return await db.ConnectTokens.AsNoTracking().SingleOrDefaultAsync(t => t.TokenHash == hash, cancellationToken).ConfigureAwait(false);
    }

    internal ConnectLinkOutcome Check(ConnectTokenEntity? link)
    {
        if (link is null)
        {
            return new ConnectLinkOutcome(ConnectLinkState.Unknown);
        }

        catalog.TryGet(link.ConnectorId, out var connector);
        if (link.UsedAtMs is not null)
        {
            return new ConnectLinkOutcome(ConnectLinkState.Used, connector, link.EndUserId);
        }

        if (link.ExpiresAtMs <= time.GetUtcNow().ToUnixTimeMilliseconds())
        {
            return new ConnectLinkOutcome(ConnectLinkState.Expired, connector, link.EndUserId);
        }

        if (connector is null || !catalog.IsAllowed(link.AccountId, connector.Id))
        {
            return new ConnectLinkOutcome(ConnectLinkState.Unavailable, connector, link.EndUserId);
        }

        return new ConnectLinkOutcome(ConnectLinkState.Ready, connector, link.EndUserId);
    }

    private static string Refusal(ConnectorDefinition connector, Exception ex)
    {
        var http = ex as HttpRequestException ?? ex.InnerException as HttpRequestException;
        return http?.StatusCode switch
        {
            System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden => $"{connector.Name} did not accept this key. Check it and try again.",
            { } status => $"{connector.Name} answered {(int)status} when Qlaud listed its tools with this key. Check the key and try again.",
            null when ex is OperationCanceledException or TimeoutException => $"{connector.Name} did not answer in time. Try again.",
            null => $"{connector.Name} could not be reached with this key. Check it and try again.",
        };
    }

    private static QlaudConnection ToConnection(ConnectionEntity c, ConnectorDefinition? connector)
    {
        // Credentials issued for another server address are not used; the connection shows that.
        bool moved = c.Status == ConnectionStatus.Active && connector is not null && c.ServerUrl != connector.Address;
        return new QlaudConnection(c.Id, c.ConnectorId, NullIfEmpty(c.EndUserId), moved ? ConnectionStatus.Error : c.Status,
            moved ? "The connector's server address changed; connect again." : c.Error, c.CreatedAtMs, c.UpdatedAtMs, c.LastUsedAtMs);
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static string NewConnectionId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return "conn_" + Convert.ToHexStringLower(bytes);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Connect link minted for connector {ConnectorId}, connection {ConnectionId}")]
        public static partial void LinkMinted(ILogger logger, string connectorId, string connectionId);

        [LoggerMessage(2, LogLevel.Information, "Connection {ConnectionId} to connector {ConnectorId} is active")]
        public static partial void Connected(ILogger logger, string connectorId, string connectionId);

        [LoggerMessage(3, LogLevel.Information, "Connector {ConnectorId} refused a key on the connect page ({Reason})")]
        public static partial void KeyRefused(ILogger logger, string connectorId, string reason);

        [LoggerMessage(4, LogLevel.Information, "Connection {ConnectionId} revoked; its credentials were erased")]
        public static partial void Revoked(ILogger logger, string connectionId);
    }
}

/// <summary>A usable connection with its decrypted credential, held only for the duration of a call.</summary>
internal sealed record ActiveConnection(string Id, string EndUserId, ConnectorCredential Credential, long Version);
