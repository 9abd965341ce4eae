namespace Qlaud.Connectors;

/// <summary>Connectors in process: the catalog, connections and connect links, the service the <c>/v1/connectors</c> and
/// <c>/v1/connections</c> endpoints call.</summary>
/// <remarks>
/// <para>A connection belongs to (account, end user, connector). A key with an end user acts for that end user only (naming
/// another is a <see cref="QlaudErrorKind.Permission"/> error); a master or admin-scope key names any end user of its account,
/// or none for the account's own connection. Another end user's or account's connection is treated as not existing.</para>
/// <para>Credentials never leave the service: no method returns them.</para>
/// </remarks>
public interface IQlaudConnectors
{
    /// <summary>The connectors the caller's account may use, with the end user's connection to each.</summary>
    Task<IReadOnlyList<ConnectorStatus>> ListConnectorsAsync(QlaudCaller caller, string? endUserId = null, CancellationToken cancellationToken = default);

    /// <summary>Mints a one-time connect link (and a <c>pending</c> connection unless one is active), valid for
    /// <c>Qlaud:Connectors:ConnectLinkMinutes</c>.</summary>
    /// <param name="caller">Who asks.</param>
    /// <param name="connectorId">The connector.</param>
    /// <param name="endUserId">The end user to connect; the caller's own when null.</param>
    /// <param name="gatewayBaseUri">The gateway's base URL for the link when <c>Qlaud:Connectors:PublicBaseUrl</c> is not set.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="QlaudException">Unknown or not allowed connector (404), a connector that needs no connection (400), another end user (403).</exception>
    Task<ConnectLink> CreateConnectLinkAsync(QlaudCaller caller, string connectorId, string? endUserId = null, Uri? gatewayBaseUri = null, CancellationToken cancellationToken = default);

    /// <summary>The caller's connections: its end user's, or for an account-wide key the account's (narrowed by <paramref name="endUserId"/>).</summary>
    Task<IReadOnlyList<QlaudConnection>> ListConnectionsAsync(QlaudCaller caller, string? endUserId = null, CancellationToken cancellationToken = default);

    /// <summary>Disconnects: the connection is <c>revoked</c> and its credentials erased. False when the caller has no such connection.</summary>
    Task<bool> DeleteConnectionAsync(QlaudCaller caller, string connectionId, CancellationToken cancellationToken = default);
}
