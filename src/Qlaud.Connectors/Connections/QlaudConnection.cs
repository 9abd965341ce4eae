namespace Qlaud.Connectors;

/// <summary>An end user's connection to a connector, as the API shows it: never its credentials.</summary>
/// <param name="Id">The connection id (<c>conn_…</c>).</param>
/// <param name="ConnectorId">The connector.</param>
/// <param name="EndUserId">The end user; null for a connection of the account itself.</param>
/// <param name="Status"><c>pending</c>, <c>active</c>, <c>error</c> or <c>revoked</c>.</param>
/// <param name="Error">Why the connection is in <c>error</c>.</param>
/// <param name="CreatedAtMs">Created (Unix ms).</param>
/// <param name="UpdatedAtMs">Last changed (Unix ms).</param>
/// <param name="LastUsedAtMs">Last used by a tool call (Unix ms).</param>
public sealed record QlaudConnection(string Id, string ConnectorId, string? EndUserId, string Status, string? Error, long CreatedAtMs, long UpdatedAtMs, long? LastUsedAtMs);

/// <summary>A connector with the caller's connection to it, if any.</summary>
/// <param name="Connector">The catalog entry.</param>
/// <param name="Connection">The connection of the end user asked about; null when there is none.</param>
public sealed record ConnectorStatus(ConnectorDefinition Connector, QlaudConnection? Connection);

/// <summary>A one-time connect link for an end user to authorize a connector.</summary>
/// <param name="ConnectionId">The connection the link completes (<c>pending</c> until it is used).</param>
/// <param name="ConnectorId">The connector.</param>
/// <param name="EndUserId">The end user; null for the account itself.</param>
/// <param name="Url"><c>{gateway}/connect/{token}</c>: open it in a browser. Shown once; only its hash is stored.</param>
/// <param name="ExpiresAtMs">When the link stops working (Unix ms).</param>
public sealed record ConnectLink(string ConnectionId, string ConnectorId, string? EndUserId, Uri Url, long ExpiresAtMs);

/// <summary>Connection states.</summary>
public static class ConnectionStatus
{
    /// <summary>A connect link was made; the end user has not completed it.</summary>
    public const string Pending = "pending";

    /// <summary>Credentials are held; tools can be called.</summary>
    public const string Active = "active";

    /// <summary>The credentials stopped working (refused, refresh failed, server address changed); connect again.</summary>
    public const string Error = "error";

    /// <summary>Disconnected: the credentials were erased.</summary>
    public const string Revoked = "revoked";
}
