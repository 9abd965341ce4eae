namespace Qlaud.Connectors;

/// <summary>A connector's authentication: the kind, and for keys the header and prefix they are sent with.</summary>
/// <param name="Kind">The kind.</param>
/// <param name="Header">The header a key or token is sent in (<c>Authorization</c> for <see cref="ConnectorAuthKind.Bearer"/> and OAuth).</param>
/// <param name="Prefix">Text before the key in the header (<c>Bearer </c> for bearer tokens; empty for a bare key).</param>
public sealed record ConnectorAuth(ConnectorAuthKind Kind, string Header, string Prefix)
{
    /// <summary>For OAuth: a client id registered with the vendor beforehand; null to register dynamically (RFC 7591).</summary>
    public string? ClientId { get; init; }

    /// <summary>For OAuth with a registered client: its secret, if the vendor issued one. Never logged.</summary>
    public string? ClientSecret { get; init; }

    /// <summary>For OAuth: scopes to ask for; empty to ask for what the server's metadata advertises.</summary>
    public IReadOnlyList<string> Scopes { get; init; } = [];

    /// <summary>For OAuth: whether the vendor needs a client registered beforehand (no dynamic client registration).</summary>
    public bool RequiresRegisteredClient { get; init; }

    /// <summary>The wire name of <see cref="Kind"/>: <c>none</c>, <c>api_key</c>, <c>bearer</c>, <c>oauth</c>.</summary>
    public string KindName => Kind switch
    {
        ConnectorAuthKind.ApiKey => "api_key",
        ConnectorAuthKind.Bearer => "bearer",
        ConnectorAuthKind.OAuth => "oauth",
        _ => "none",
    };
}
