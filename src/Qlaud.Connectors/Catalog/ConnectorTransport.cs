namespace Qlaud.Connectors;

/// <summary>How Qlaud reaches a connector's MCP server.</summary>
public enum ConnectorTransport
{
    /// <summary>MCP streamable HTTP (<c>streamable_http</c>).</summary>
    StreamableHttp,

    /// <summary>The older HTTP with server-sent events transport (<c>sse</c>).</summary>
    Sse,

    /// <summary>A local process spoken to over standard input and output (<c>stdio</c>); only from configuration.</summary>
    Stdio,
}
