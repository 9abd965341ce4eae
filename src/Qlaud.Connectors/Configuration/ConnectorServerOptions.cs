namespace Qlaud.Connectors;

/// <summary>An operator's MCP server (<c>Qlaud:Connectors:Servers:{id}</c>): a remote URL or a local command. Fields left unset on a
/// built-in id keep the built-in value.</summary>
public sealed class ConnectorServerOptions
{
    /// <summary>Display name.</summary>
    public string? Name { get; set; }

    /// <summary>What the connector reaches; the model reads it when searching tools.</summary>
    public string? Description { get; set; }

    /// <summary>Categories.</summary>
    public List<string>? Categories { get; set; }

    /// <summary>The remote MCP endpoint (http or https).</summary>
    public string? Url { get; set; }

    /// <summary><c>streamable_http</c> (default for a URL), <c>sse</c> or <c>stdio</c> (default for a command).</summary>
    public string? Transport { get; set; }

    /// <summary>A local server's command (stdio).</summary>
    public string? Command { get; set; }

    /// <summary>A local server's arguments.</summary>
    public List<string>? Arguments { get; set; }

    /// <summary>The vendor's documentation link.</summary>
    public string? Documentation { get; set; }

    /// <summary><c>false</c> removes the connector (a built-in one too).</summary>
    public bool? Enabled { get; set; }

    /// <summary>How end users authenticate.</summary>
    public ConnectorAuthOptions? Auth { get; set; }
}

/// <summary>A connector's authentication in configuration (<c>Qlaud:Connectors:Servers:{id}:Auth</c>).</summary>
public sealed class ConnectorAuthOptions
{
    /// <summary><c>none</c>, <c>api_key</c>, <c>bearer</c> or <c>oauth</c>.</summary>
    public string? Kind { get; set; }

    /// <summary>The header an <c>api_key</c> is sent in (default <c>Authorization</c>).</summary>
    public string? Header { get; set; }

    /// <summary>Text before the key in the header (default <c>Bearer </c> in <c>Authorization</c>, else none).</summary>
    public string? Prefix { get; set; }

    /// <summary>For <c>oauth</c>: a client id registered with the vendor; unset to register dynamically.</summary>
    public string? ClientId { get; set; }

    /// <summary>For <c>oauth</c>: the registered client's secret. Never logged.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>For <c>oauth</c>: scopes to ask for.</summary>
    public List<string>? Scopes { get; set; }
}
