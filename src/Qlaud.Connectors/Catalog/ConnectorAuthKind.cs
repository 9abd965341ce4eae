namespace Qlaud.Connectors;

/// <summary>How a connector's server authenticates an end user.</summary>
public enum ConnectorAuthKind
{
    /// <summary>No credentials: the server is open (<c>none</c>).</summary>
    None,

    /// <summary>A key the end user pastes on the connect page, sent in a header with an optional prefix (<c>api_key</c>).</summary>
    ApiKey,

    /// <summary>A token the end user pastes on the connect page, sent as <c>Authorization: Bearer</c> (<c>bearer</c>).</summary>
    Bearer,

    /// <summary>OAuth 2.1 as the MCP authorization specification describes it: the end user signs in at the vendor (<c>oauth</c>).</summary>
    OAuth,
}
