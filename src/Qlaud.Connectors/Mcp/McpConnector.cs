using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Qlaud.Connectors.Mcp;

/// <summary>Opens MCP client sessions to connector servers, with a connection's credentials in the connector's auth header.</summary>
/// <remarks>A session is opened per use and disposed after it: credentials live in memory only while a call runs, and one end
/// user's session is never reused for another.</remarks>
internal sealed class McpConnector(IHttpClientFactory httpClients, ILoggerFactory loggers, IOptions<ConnectorsOptions> options)
{
    /// <summary>The named <see cref="HttpClient"/> of connector servers.</summary>
    public const string HttpClientName = "Qlaud.Connectors";

    /// <summary>The <see cref="HttpClient"/> of servers a request named (<c>mcp_servers</c>): private addresses are refused when
    /// each connection is opened, unless <c>Qlaud:Connectors:AllowPrivateNetworks</c>.</summary>
    public const string RequestServersHttpClientName = "Qlaud.Connectors.RequestServers";

    private static readonly Implementation ClientInfo = new() { Name = "Qlaud", Version = typeof(McpConnector).Assembly.GetName().Version?.ToString(3) ?? "1.0.0" };

    public TimeSpan CallTimeout { get; } = TimeSpan.FromSeconds(options.Value.ToolCallTimeoutSeconds);

    /// <summary>Opens and initializes a session; <paramref name="authorization"/> is the auth header's value (prefix included), null for none.</summary>
    public async Task<McpClient> OpenAsync(ConnectorDefinition connector, string? authorization, CancellationToken cancellationToken)
    {
        IClientTransport transport;
        if (connector.Transport == ConnectorTransport.Stdio)
        {
            var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
            if (authorization is not null)
            {
                // A local server reads its credential from the environment, under the configured header name.
                environment[connector.Auth.Header.Replace('-', '_').ToUpperInvariant()] = authorization;
            }

            transport = new StdioClientTransport(new StdioClientTransportOptions
            {
                Name = connector.Id,
                Command = connector.Command!,
                Arguments = [.. connector.Arguments],
                EnvironmentVariables = environment,
            }, loggers);
        }
        else
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (authorization is not null)
            {
                headers[connector.Auth.Header] = authorization;
            }

            transport = new HttpClientTransport(new HttpClientTransportOptions
            {
                Name = connector.Id,
                Endpoint = connector.Url!,
                TransportMode = connector.Transport == ConnectorTransport.Sse ? HttpTransportMode.Sse : HttpTransportMode.StreamableHttp,
                AdditionalHeaders = headers,
                ConnectionTimeout = CallTimeout,
            }, httpClients.CreateClient(connector.FromRequest ? RequestServersHttpClientName : HttpClientName), loggers, ownsHttpClient: false);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CallTimeout);
        return await McpClient.CreateAsync(transport, new McpClientOptions { ClientInfo = ClientInfo, InitializationTimeout = CallTimeout }, loggers, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>Lists a server's tools in one session.</summary>
    public async Task<IReadOnlyList<ConnectorTool>> ListToolsAsync(ConnectorDefinition connector, string? authorization, CancellationToken cancellationToken)
    {
        await using var client = await OpenAsync(connector, authorization, cancellationToken).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CallTimeout);
        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token).ConfigureAwait(false);
        var result = new List<ConnectorTool>(tools.Count);
        foreach (var tool in tools)
        {
            result.Add(new ConnectorTool(connector.Id, tool.Name, tool.Description ?? "", tool.JsonSchema));
        }

        return result;
    }

    /// <summary>Calls one tool in one session.</summary>
    public async Task<CallToolResult> CallToolAsync(ConnectorDefinition connector, string? authorization, string tool,
        IReadOnlyDictionary<string, object?> arguments, CancellationToken cancellationToken)
    {
        await using var client = await OpenAsync(connector, authorization, cancellationToken).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CallTimeout);
        return await client.CallToolAsync(tool, arguments, cancellationToken: timeout.Token).ConfigureAwait(false);
    }
}
