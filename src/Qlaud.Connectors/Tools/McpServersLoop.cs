using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Qlaud.Connectors.Mcp;
using Qlaud.Dialects;
using Qlaud.Threads;

namespace Qlaud.Connectors.Tools;

/// <summary>Anthropic's <c>mcp_servers</c> request parameter on <c>POST /v1/messages</c>, for every model: the servers' tools are
/// listed and executed by Qlaud's tool loop, the answer carries <c>mcp_tool_use</c>/<c>mcp_tool_result</c> blocks.</summary>
internal sealed class McpServersLoop(ThreadToolLoop loop, McpConnector mcp, IOptions<ConnectorsOptions> options, Builtins.WebFetch.IHostResolver resolver)
{
    private const int MaxServers = 20;

    /// <summary>Runs one request that has <c>mcp_servers</c>; the Anthropic message, or the error to answer. With a
    /// <paramref name="stream"/>, the answer's events are written to it while the loop runs (the message is then null).</summary>
    public async Task<(QlaudError? Error, byte[]? Message, string Model)> RunAsync(QlaudCaller caller, ReadOnlyMemory<byte> body,
        Func<string, ToolLoopStream>? stream, CancellationToken cancellationToken)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(body.Span)!.AsObject();
        }
        catch (JsonException ex)
        {
            return (Invalid($"The request body is not valid JSON: {ex.Message}"), null, "");
        }

        if (root["mcp_servers"] is not JsonArray servers || servers.Count is 0 or > MaxServers)
        {
            return (Invalid($"'mcp_servers' must be an array of 1 to {MaxServers} servers."), null, "");
        }

        root.Remove("mcp_servers");
        root.Remove("stream");
        string model = root["model"]?.GetValue<string>() ?? "";
        var runtime = loop.Runtime(caller);
        var tools = new List<AITool>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < servers.Count; i++)
        {
            var server = servers[i] as JsonObject;
            string? name = server?["name"]?.GetValue<string>(), url = server?["url"]?.GetValue<string>();
            if (server?["type"]?.GetValue<string>() != "url" || string.IsNullOrEmpty(name) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
            {
                return (Invalid($"mcp_servers[{i}] needs \"type\":\"url\", a 'name' and an absolute 'url'."), null, model);
            }

            if (name.Contains(ConnectorTool.Separator, StringComparison.Ordinal) || !names.Add(name))
            {
                return (Invalid($"mcp_servers[{i}].name must be unique and must not contain '{ConnectorTool.Separator}'."), null, model);
            }

            if (await SsrfGuard.CheckAsync(uri, options.Value.AllowPrivateNetworks, cancellationToken, resolver.ResolveAsync).ConfigureAwait(false) is { } refused)
            {
                return (Invalid($"mcp_servers[{i}].url {refused}.", "mcp_server_url_refused"), null, model);
            }

            var configuration = server["tool_configuration"] as JsonObject;
            if (configuration?["enabled"]?.GetValue<bool>() == false)
            {
                continue;
            }

            var allowed = (configuration?["allowed_tools"] as JsonArray)?.Select(static t => t?.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
            string? token = server["authorization_token"]?.GetValue<string>();
            var connector = new ConnectorDefinition(name, name, "", [], ConnectorTransport.StreamableHttp, uri,
                new ConnectorAuth(token is null ? ConnectorAuthKind.None : ConnectorAuthKind.Bearer, "Authorization", "Bearer ")) { FromRequest = true };
            string? authorization = token is null ? null : "Bearer " + token;
            IReadOnlyList<ConnectorTool> listed;
            try
            {
                listed = await mcp.ListToolsAsync(connector, authorization, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                return (new QlaudError(QlaudErrorKind.InvalidRequest, $"mcp_servers[{i}] ('{name}') could not be reached or refused the request: {ex.GetType().Name}.", "mcp_server_unavailable"), null, model);
            }

            foreach (var tool in listed)
            {
                if (allowed is not null && !allowed.Contains(tool.Name))
                {
                    continue;
                }

                string toolName = tool.Name;
                tools.Add(new QlaudFunction(tool.QualifiedName, tool.Description, tool.InputSchema, async (arguments, ct) =>
                {
                    var values = arguments.ToDictionary(static p => p.Key, static p => p.Value);
                    var result = await mcp.CallToolAsync(connector, authorization, toolName, values, ct).ConfigureAwait(false);
                    if (result.IsError == true)
                    {
                        runtime.MarkFailed();
                    }

                    return string.Join('\n', result.Content.Select(static c => c is ModelContextProtocol.Protocol.TextContentBlock t ? t.Text : $"[{c.Type} content]"));
                }));
            }
        }

        CanonicalChatRequest request;
        try
        {
            request = DialectRegistry.Get("anthropic").ReadRequest(JsonSerializer.SerializeToUtf8Bytes(root, ToolJsonContext.Default.JsonObject));
        }
        catch (DialectException ex)
        {
            return (Invalid(ex.Message), null, model);
        }

        var reply = await loop.RunWithToolsAsync(caller, request, tools, runtime, stream?.Invoke(model), cancellationToken).ConfigureAwait(false);
        return (null, stream is null ? reply.Reply.ToMessageJson(model) : null, model);
    }

    private static QlaudError Invalid(string message, string? code = null) => new(QlaudErrorKind.InvalidRequest, message, code);
}
