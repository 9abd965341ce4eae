namespace Qlaud.Connectors;

/// <summary>One connector of the catalog: a vendor's MCP server and how an end user authenticates to it.</summary>
/// <param name="Id">The catalog id (<c>linear</c>, <c>github</c>); also the prefix of its tools' names and the <c>server_name</c> of
/// <c>mcp_tool_use</c> blocks.</param>
/// <param name="Name">The display name.</param>
/// <param name="Description">What the connector reaches.</param>
/// <param name="Categories">Categories such as <c>project-management</c>.</param>
/// <param name="Transport">How the server is reached.</param>
/// <param name="Url">The remote server's endpoint; null for a local <see cref="ConnectorTransport.Stdio"/> server.</param>
/// <param name="Auth">How end users authenticate.</param>
public sealed record ConnectorDefinition(string Id, string Name, string Description, IReadOnlyList<string> Categories,
    ConnectorTransport Transport, Uri? Url, ConnectorAuth Auth)
{
    /// <summary>The vendor's documentation.</summary>
    public string? Documentation { get; init; }

    /// <summary>Where the endpoint was found (built-in entries) or <c>configuration</c>.</summary>
    public string? Source { get; init; }

    /// <summary>For a local server: the command to start.</summary>
    public string? Command { get; init; }

    /// <summary>For a local server: its arguments.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Whether the entry comes from the built-in catalog file (possibly overridden by configuration).</summary>
    public bool BuiltIn { get; init; }

    /// <summary>Whether the server came from a request (<c>mcp_servers</c>) rather than the operator's catalog: its connections are
    /// checked against private networks when they are opened (<c>Qlaud:Connectors:AllowPrivateNetworks</c>).</summary>
    public bool FromRequest { get; init; }

    /// <summary>What the credentials of a connection are bound to: the URL, or the command line of a local server. A connection
    /// whose credentials were issued for another address is not used (it must be connected again).</summary>
    public string Address => Url?.AbsoluteUri ?? string.Join(' ', [Command ?? "", .. Arguments]);

    /// <summary>The wire name of <see cref="Transport"/>: <c>streamable_http</c>, <c>sse</c>, <c>stdio</c>.</summary>
    public string TransportName => Transport switch
    {
        ConnectorTransport.Sse => "sse",
        ConnectorTransport.Stdio => "stdio",
        _ => "streamable_http",
    };
}
