using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using ModelContextProtocol.Protocol;
using Qlaud.Connectors.Mcp;

namespace Qlaud.Connectors.Tools;

/// <summary>The tools of one loop run, for one end user: the four <c>qlaud_*</c> meta-tools, the end user's connector tools,
/// and their execution with the end user's own credentials.</summary>
/// <remarks>Every execution looks the connection up by (account, end user, connector) at call time: a call never uses another
/// end user's credential, and a revoked or moved connection is never used.</remarks>
internal sealed class ToolRuntime(QlaudTools tools, QlaudCaller caller)
{
    private readonly QlaudConnectors connectors = tools.Connectors;
    private readonly McpConnector mcp = tools.Mcp;
    private readonly ToolIndex index = tools.Index;
    private readonly ConnectorsOptions options = tools.Options;

    /// <summary>The <c>server_name</c> of the meta-tools' <c>mcp_tool_use</c> blocks.</summary>
    public const string ServerName = "qlaud";

    public const string SearchTools = "qlaud_search_tools";
    public const string GetToolSchemas = "qlaud_get_tool_schemas";
    public const string MultiExecute = "qlaud_multi_execute";
    public const string ManageConnections = "qlaud_manage_connections";

    private const int MaxCalls = 20;

    private static readonly JsonElement SearchSchema = QlaudFunction.Schema("""
        {"type":"object","properties":{"intent":{"type":"string","description":"What the user wants done, in a few words (e.g. 'create a Linear ticket')."},
        "limit":{"type":"integer","minimum":1,"maximum":25,"description":"Most results (default 8)."}},"required":["intent"]}
        """);

    private static readonly JsonElement SchemasSchema = QlaudFunction.Schema("""
        {"type":"object","properties":{"tools":{"type":"array","items":{"type":"string"},"description":"Tool names from qlaud_search_tools, like 'linear__create_issue'."}},"required":["tools"]}
        """);

    private static readonly JsonElement ExecuteSchema = QlaudFunction.Schema("""
        {"type":"object","properties":{"calls":{"type":"array","maxItems":20,"items":{"type":"object","properties":{
        "tool":{"type":"string","description":"A tool name from qlaud_search_tools, like 'linear__create_issue'."},
        "arguments":{"type":"object","description":"The tool's arguments, as its schema from qlaud_get_tool_schemas describes."}},"required":["tool","arguments"]}}},"required":["calls"]}
        """);

    private static readonly JsonElement ManageSchema = QlaudFunction.Schema("""
        {"type":"object","properties":{"action":{"type":"string","enum":["list","status","connect","disconnect"]},
        "connector":{"type":"string","description":"A connector id such as 'linear' (required except for list)."}},"required":["action"]}
        """);

    private readonly string _endUser = caller.EndUserId ?? "";
    private readonly ConcurrentDictionary<string, bool> _failedCalls = new(StringComparer.Ordinal);

    /// <summary>Whether the tool call with this id ended in an error (the <c>is_error</c> of its <c>mcp_tool_result</c>).</summary>
    public bool Failed(string callId) => _failedCalls.ContainsKey(callId);

    /// <summary>The four meta-tools of <c>dynamic</c> mode.</summary>
    public IList<AITool> MetaTools() =>
    [
        new QlaudFunction(SearchTools, "Search the tools of every connector (Linear, GitHub, Notion, …) for one that does what the user asks. Each hit says whether the user has connected it. Call this first when the user asks for something in another app.",
            SearchSchema, (a, ct) => Wrap(a, ct, SearchAsync)),
        new QlaudFunction(GetToolSchemas, "Get the input schemas of tools found with qlaud_search_tools, before calling them.", SchemasSchema, (a, ct) => Wrap(a, ct, SchemasAsync)),
        new QlaudFunction(MultiExecute, "Run one or more tools (in parallel) with the user's own connected accounts. Each call names a tool from qlaud_search_tools and its arguments.",
            ExecuteSchema, (a, ct) => Wrap(a, ct, ExecuteAsync)),
        new QlaudFunction(ManageConnections, "List the user's connections, check one, get a one-time connect link for the user to authorize a connector (give the user the link; never ask for passwords or keys in the chat), or disconnect one.",
            ManageSchema, (a, ct) => Wrap(a, ct, ManageAsync)),
    ];

    /// <summary>The tools of the end user's active connections (and open connectors they already used), at most <c>MaxStaticTools</c>.</summary>
    public async Task<IReadOnlyList<(ConnectorDefinition Connector, ConnectorTool Tool)>> ConnectorToolsAsync(CancellationToken cancellationToken)
    {
        var statuses = await connectors.StatusesAsync(caller.AccountId, _endUser, cancellationToken).ConfigureAwait(false);
        var found = new List<(ConnectorDefinition, ConnectorTool)>();
        foreach (var connector in connectors.Catalog.For(caller.AccountId))
        {
            if (!statuses.TryGetValue(connector.Id, out var status) || status != ConnectionStatus.Active)
            {
                continue;
            }

            foreach (var tool in await ToolsOfAsync(connector, connected: true, cancellationToken).ConfigureAwait(false) ?? [])
            {
                if (found.Count >= options.MaxStaticTools)
                {
                    return found;
                }

                found.Add((connector, tool));
            }
        }

        return found;
    }

    /// <summary>The tools of <c>static</c> mode, offered to the model directly: the builtins, the webhook tools and the tools of the
    /// end user's active connections, at most <c>MaxStaticTools</c> in all.</summary>
    public async Task<IList<AITool>> DirectToolsAsync(CancellationToken cancellationToken)
    {
        var list = new List<AITool>();
        foreach (var builtin in tools.BuiltinsFor(caller.AccountId))
        {
            string name = builtin.Name;
            list.Add(new QlaudFunction(name, builtin.Description, builtin.InputSchema, (a, ct) => Invoke(name, a, ct)));
        }

        foreach (var webhook in await tools.WebhooksForAsync(caller, _endUser, cancellationToken).ConfigureAwait(false))
        {
            string name = webhook.Name;
            list.Add(new QlaudFunction(name, webhook.Description, QlaudFunction.Schema(webhook.InputSchemaJson), (a, ct) => Invoke(name, a, ct)));
        }

        foreach (var (connector, tool) in await ConnectorToolsAsync(cancellationToken).ConfigureAwait(false))
        {
            string qualified = tool.QualifiedName;
            list.Add(new QlaudFunction(qualified, $"[{connector.Name}] {tool.Description}", tool.InputSchema, (a, ct) => Invoke(qualified, a, ct)));
        }

        return list.Count > options.MaxStaticTools ? list[..options.MaxStaticTools] : list;
    }

    private async ValueTask<object?> Invoke(string name, AIFunctionArguments arguments, CancellationToken cancellationToken)
    {
        var (failed, text) = await CallAsync(name, Arguments(arguments), cancellationToken).ConfigureAwait(false);
        if (failed)
        {
            MarkFailed();
        }

        return text;
    }

    /// <summary>Runs a meta-tool by name outside a model loop (Qlaud's own MCP server): whether it failed, and its text.</summary>
    public Task<(bool Failed, string Text)> RunMetaToolAsync(string name, JsonElement arguments, CancellationToken cancellationToken) => name switch
    {
        SearchTools => SearchAsync(arguments, cancellationToken),
        GetToolSchemas => SchemasAsync(arguments, cancellationToken),
        MultiExecute => ExecuteAsync(arguments, cancellationToken),
        ManageConnections => ManageAsync(arguments, cancellationToken),
        _ => Task.FromResult((true, $"Unknown tool '{name}'.")),
    };

    private async ValueTask<object?> Wrap(AIFunctionArguments arguments, CancellationToken cancellationToken, Func<JsonElement, CancellationToken, Task<(bool Failed, string Text)>> body)
    {
        var json = JsonSerializer.SerializeToElement(arguments.ToDictionary(static p => p.Key, static p => p.Value), ToolJsonContext.Default.DictionaryStringObject);
        var (failed, text) = await body(json, cancellationToken).ConfigureAwait(false);
        if (failed)
        {
            MarkFailed();
        }

        return text;
    }

    internal void MarkFailed()
    {
        if (FunctionInvokingChatClient.CurrentContext?.CallContent.CallId is { } id)
        {
            _failedCalls[id] = true;
        }
    }

    private async Task<(bool, string)> SearchAsync(JsonElement args, CancellationToken cancellationToken)
    {
        string intent = args.TryGetProperty("intent", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString()! : "";
        int limit = args.TryGetProperty("limit", out var l) && l.TryGetInt32(out int n) ? Math.Clamp(n, 1, 25) : 8;
        if (ToolSearch.Terms(intent).Count == 0)
        {
            return (true, "Give an 'intent': what the user wants done, in a few words.");
        }

        var candidates = new List<SearchHit>();
        var documents = new List<ToolDocument>();
        foreach (var builtin in tools.BuiltinsFor(caller.AccountId))
        {
            candidates.Add(new SearchHit("builtin", builtin.Name, builtin.Description, null, null, true));
            documents.Add(new ToolDocument(builtin.Name.Replace('_', ' '), builtin.Description));
        }

        foreach (var webhook in await tools.WebhooksForAsync(caller, _endUser, cancellationToken).ConfigureAwait(false))
        {
            candidates.Add(new SearchHit("webhook", webhook.Name, webhook.Description, null, null, true));
            documents.Add(new ToolDocument(webhook.Name.Replace('_', ' ').Replace('-', ' '), webhook.Description));
        }

        var statuses = await connectors.StatusesAsync(caller.AccountId, _endUser, cancellationToken).ConfigureAwait(false);
        foreach (var connector in connectors.Catalog.For(caller.AccountId))
        {
            bool connected = connector.Auth.Kind == ConnectorAuthKind.None
                || (statuses.TryGetValue(connector.Id, out var status) && status == ConnectionStatus.Active);
            string about = connector.Description + " " + string.Join(' ', connector.Categories);
            var connectorTools = await ToolsOfAsync(connector, connected, cancellationToken).ConfigureAwait(false);
            if (connectorTools is null or { Count: 0 })
            {
                // Tools are known once someone connected: until then the connector itself is the hit.
                candidates.Add(new SearchHit("connector", null, connector.Description, connector.Id, connector.Name, connected));
                documents.Add(new ToolDocument(connector.Name + " " + connector.Id, about));
                continue;
            }

            foreach (var tool in connectorTools)
            {
                candidates.Add(new SearchHit("connector", tool.QualifiedName, tool.Description, connector.Id, connector.Name, connected));
                documents.Add(new ToolDocument($"{connector.Name} {tool.Name.Replace('_', ' ')}", tool.Description + " " + about));
            }
        }

        var ranked = await tools.Search.RankAsync(intent, documents, limit, cancellationToken).ConfigureAwait(false);
        var top = new List<SearchHit>(ranked.Count);
        foreach (int index in ranked)
        {
            top.Add(candidates[index]);
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("results");
            foreach (var hit in top)
            {
                w.WriteStartObject();
                if (hit.Tool is { } tool)
                {
                    w.WriteString("tool", tool);
                }
                else
                {
                    w.WriteNull("tool");
                }

                w.WriteString("description", hit.Description);
                w.WriteString("type", hit.Type);
                if (hit.ConnectorId is { } connectorId)
                {
                    w.WriteString("connector", connectorId);
                    w.WriteString("connector_name", hit.ConnectorName);
                }

                w.WriteBoolean("connected", hit.Connected);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteString("next", top.Count == 0
                ? "Nothing matched; try other words."
                : "For a connector that is not connected, call qlaud_manage_connections with action 'connect' and give the user the link. Then call qlaud_get_tool_schemas and qlaud_multi_execute.");
            w.WriteEndObject();
        }

        return (false, Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    /// <summary>One result of <c>qlaud_search_tools</c>: a builtin, webhook or connector tool, or a connector whose tools are not known yet.</summary>
    private readonly record struct SearchHit(string Type, string? Tool, string Description, string? ConnectorId, string? ConnectorName, bool Connected);

    private async Task<(bool, string)> SchemasAsync(JsonElement args, CancellationToken cancellationToken)
    {
        if (!args.TryGetProperty("tools", out var names) || names.ValueKind != JsonValueKind.Array)
        {
            return (true, "'tools' must be an array of tool names from qlaud_search_tools.");
        }

        var statuses = await connectors.StatusesAsync(caller.AccountId, _endUser, cancellationToken).ConfigureAwait(false);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            foreach (var name in names.EnumerateArray().Take(MaxCalls))
            {
                string qualified = name.GetString() ?? "";
                w.WriteStartObject();
                w.WriteString("tool", qualified);
                ConnectorTool? found = null;
                if (!qualified.Contains(ConnectorTool.Separator, StringComparison.Ordinal) && await FindDirectAsync(qualified, cancellationToken).ConfigureAwait(false) is { } direct)
                {
                    w.WriteBoolean("connected", true);
                    w.WriteString("description", direct.Description);
                    w.WritePropertyName("input_schema");
                    direct.Schema.WriteTo(w);
                    w.WriteEndObject();
                    continue;
                }

                if (ConnectorTool.TrySplit(qualified, out var connectorId, out var toolName) && connectors.Catalog.Find(caller.AccountId, connectorId) is { } connector)
                {
                    bool connected = connector.Auth.Kind == ConnectorAuthKind.None || (statuses.TryGetValue(connector.Id, out var s) && s == ConnectionStatus.Active);
                    found = (await ToolsOfAsync(connector, connected, cancellationToken).ConfigureAwait(false))?.FirstOrDefault(t => t.Name == toolName);
                    w.WriteBoolean("connected", connected);
                }

                if (found is null)
                {
                    w.WriteString("error", "Unknown tool, or its connector is not connected yet so its schema is not known.");
                }
                else
                {
                    w.WriteString("description", found.Description);
                    w.WritePropertyName("input_schema");
                    found.InputSchema.WriteTo(w);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        return (false, Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    private async Task<(bool, string)> ExecuteAsync(JsonElement args, CancellationToken cancellationToken)
    {
        if (!args.TryGetProperty("calls", out var calls) || calls.ValueKind != JsonValueKind.Array || calls.GetArrayLength() == 0)
        {
            return (true, "'calls' must be a non-empty array of {tool, arguments}.");
        }

        if (calls.GetArrayLength() > MaxCalls)
        {
            return (true, $"At most {MaxCalls} calls at once.");
        }

        var list = calls.EnumerateArray().ToList();
        var results = new (bool Failed, string Text, string Tool)[list.Count];
        string? parent = FunctionInvokingChatClient.CurrentContext?.CallContent.CallId;
        using var gate = new SemaphoreSlim(options.MaxParallelCalls);
        await Task.WhenAll(list.Select(async (call, i) =>
        {
            string tool = call.ValueKind == JsonValueKind.Object && call.TryGetProperty("tool", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
            var arguments = call.ValueKind == JsonValueKind.Object && call.TryGetProperty("arguments", out var a) ? a : default;
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var (failed, text) = await CallAsync(tool, arguments, cancellationToken, parent is null ? null : $"{parent}:{i}").ConfigureAwait(false);
                results[i] = (failed, text, tool);
            }
            finally
            {
                gate.Release();
            }
        })).ConfigureAwait(false);

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            foreach (var (failed, text, tool) in results)
            {
                w.WriteStartObject();
                w.WriteString("tool", tool);
                w.WriteBoolean("is_error", failed);
                w.WriteString("content", text);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        return (results.All(static r => r.Failed), Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    private async Task<(bool, string)> ManageAsync(JsonElement args, CancellationToken cancellationToken)
    {
        string action = args.TryGetProperty("action", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : "";
        string? connectorId = args.TryGetProperty("connector", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
        if (action == "list")
        {
            var list = await connectors.ListConnectionsAsync(caller, caller.SeesAccount ? _endUser : null, cancellationToken).ConfigureAwait(false);
            return (false, JsonSerializer.Serialize(list.Select(static x => new Dictionary<string, string?> { ["connector"] = x.ConnectorId, ["status"] = x.Status }).ToList(),
                ToolJsonContext.Default.ListDictionaryStringString));
        }

        if (connectorId is null || connectors.Catalog.Find(caller.AccountId, connectorId) is not { } connector)
        {
            return (true, connectorId is null ? "'connector' is required for this action." : $"No connector '{connectorId}' is available.");
        }

        var statuses = await connectors.StatusesAsync(caller.AccountId, _endUser, cancellationToken).ConfigureAwait(false);
        string status = connector.Auth.Kind == ConnectorAuthKind.None ? "no_auth_required" : statuses.TryGetValue(connector.Id, out var s) ? s : "not_connected";
        switch (action)
        {
            case "status":
                return (false, JsonSerializer.Serialize(new Dictionary<string, string?> { ["connector"] = connector.Id, ["status"] = status }, ToolJsonContext.Default.DictionaryStringString));
            case "connect" when connector.Auth.Kind == ConnectorAuthKind.None:
                return (false, $"{connector.Name} needs no connection: its tools can be called now.");
            case "connect":
                try
                {
                    var link = await connectors.CreateConnectLinkAsync(caller, connector.Id, caller.SeesAccount ? _endUser : null, ConnectLinkBase.Current, cancellationToken).ConfigureAwait(false);
                    return (false, JsonSerializer.Serialize(new Dictionary<string, string?>
                    {
                        ["connector"] = connector.Id,
                        ["connect_url"] = link.Url.AbsoluteUri,
                        ["expires_at"] = DateTimeOffset.FromUnixTimeMilliseconds(link.ExpiresAtMs).ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                        ["instructions"] = $"Give the user this link to connect their {connector.Name} account (it works once). When they have, continue.",
                    }, ToolJsonContext.Default.DictionaryStringString));
                }
                catch (QlaudException ex)
                {
                    return (true, ex.Error.Message);
                }

            case "disconnect":
                var mine = (await connectors.ListConnectionsAsync(caller, caller.SeesAccount ? _endUser : null, cancellationToken).ConfigureAwait(false))
                    .FirstOrDefault(x => string.Equals(x.ConnectorId, connector.Id, StringComparison.OrdinalIgnoreCase) && x.Status != ConnectionStatus.Revoked);
                if (mine is null || !await connectors.DeleteConnectionAsync(caller, mine.Id, cancellationToken).ConfigureAwait(false))
                {
                    return (true, $"{connector.Name} is not connected.");
                }

                return (false, $"{connector.Name} is disconnected.");
            default:
                return (true, "'action' must be list, status, connect or disconnect.");
        }
    }

    /// <summary>Calls one connector tool with the end user's own credential; failures come back as error text for the model.</summary>
    internal async Task<(bool Failed, string Text)> CallAsync(string qualified, JsonElement arguments, CancellationToken cancellationToken, string? callId = null)
    {
        callId ??= FunctionInvokingChatClient.CurrentContext?.CallContent.CallId;
        if (arguments.ValueKind is not (JsonValueKind.Object or JsonValueKind.Undefined or JsonValueKind.Null))
        {
            return (true, "'arguments' must be an object.");
        }

        if (!qualified.Contains(ConnectorTool.Separator, StringComparison.Ordinal))
        {
            if (tools.BuiltinsFor(caller.AccountId).FirstOrDefault(b => b.Name == qualified) is { } builtin)
            {
                var (failed, text) = await tools.RunBuiltinAsync(builtin, caller, Object(arguments), callId, cancellationToken).ConfigureAwait(false);
                return (failed, Truncate(text));
            }

            if ((await tools.WebhooksForAsync(caller, _endUser, cancellationToken).ConfigureAwait(false)).FirstOrDefault(t => t.Name == qualified) is { } webhook)
            {
                var (failed, text) = await tools.RunWebhookAsync(webhook, caller, Object(arguments), callId, cancellationToken).ConfigureAwait(false);
                return (failed, Truncate(text));
            }

            return (true, $"Unknown tool '{qualified}'. Use qlaud_search_tools to find tool names.");
        }

        return await tools.RunCountedAsync(qualified, caller, callId, () => CallConnectorAsync(qualified, arguments, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>A builtin or webhook tool by name, with its description and schema; null when the caller has none of that name.</summary>
    private async Task<(string Description, JsonElement Schema)?> FindDirectAsync(string name, CancellationToken cancellationToken)
    {
        if (tools.BuiltinsFor(caller.AccountId).FirstOrDefault(b => b.Name == name) is { } builtin)
        {
            return (builtin.Description, builtin.InputSchema);
        }

        return (await tools.WebhooksForAsync(caller, _endUser, cancellationToken).ConfigureAwait(false)).FirstOrDefault(t => t.Name == name) is { } webhook
            ? (webhook.Description, QlaudFunction.Schema(webhook.InputSchemaJson))
            : null;
    }

    private static JsonElement Object(JsonElement arguments) => arguments.ValueKind == JsonValueKind.Object ? arguments : QlaudFunction.Schema("{}");

    private async Task<(bool Failed, string Text)> CallConnectorAsync(string qualified, JsonElement arguments, CancellationToken cancellationToken)
    {
        if (!ConnectorTool.TrySplit(qualified, out var connectorId, out var toolName) || connectors.Catalog.Find(caller.AccountId, connectorId) is not { } connector)
        {
            return (true, $"Unknown tool '{qualified}'. Use qlaud_search_tools to find tool names.");
        }

        ActiveConnection? connection = null;
        if (connector.Auth.Kind != ConnectorAuthKind.None)
        {
            connection = await connectors.FindActiveAsync(caller.AccountId, _endUser, connector, cancellationToken).ConfigureAwait(false);
            if (connection is null)
            {
                return (true, $"{connector.Name} is not connected for this user. Call qlaud_manage_connections with action 'connect' and connector '{connector.Id}', and give the user the link.");
            }
        }

        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (arguments.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in arguments.EnumerateObject())
            {
                values[property.Name] = property.Value.Clone();
            }
        }

        CallToolResult result;
        try
        {
            result = await mcp.CallToolAsync(connector, connection?.Credential.HeaderValue(connector.Auth), toolName, values, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var http = ex as HttpRequestException ?? ex.InnerException as HttpRequestException;
            if (connection is not null && http?.StatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden)
            {
                await connectors.MarkErrorAsync(connection.Id, connection.Version, $"{connector.Name} refused the stored credential; connect again.", eraseCredentials: false, CancellationToken.None)
                    .ConfigureAwait(false);
                return (true, $"{connector.Name} refused the user's credential. Ask the user to connect again (qlaud_manage_connections connect).");
            }

            return (true, ex is OperationCanceledException or TimeoutException
                ? $"{connector.Name} did not answer within {mcp.CallTimeout.TotalSeconds:0} seconds."
                : $"Calling {qualified} failed: {ex.Message}");
        }

        if (connection is not null)
        {
            await connectors.TouchAsync(connection.Id, CancellationToken.None).ConfigureAwait(false);
        }

        return (result.IsError == true, Truncate(Text(result)));
    }

    private async Task<IReadOnlyList<ConnectorTool>?> ToolsOfAsync(ConnectorDefinition connector, bool connected, CancellationToken cancellationToken)
    {
        if (index.Known(connector) is { } known)
        {
            return known;
        }

        if (!connected)
        {
            return null;
        }

        try
        {
            string? authorization = null;
            if (connector.Auth.Kind != ConnectorAuthKind.None)
            {
                var connection = await connectors.FindActiveAsync(caller.AccountId, _endUser, connector, cancellationToken).ConfigureAwait(false);
                if (connection is null)
                {
                    return null;
                }

                authorization = connection.Credential.HeaderValue(connector.Auth);
            }

            var tools = await mcp.ListToolsAsync(connector, authorization, cancellationToken).ConfigureAwait(false);
            index.Remember(connector, tools);
            return tools;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            return null; // the server is unreachable now; searching goes on without its tools
        }
    }

    private string Truncate(string text)
    {
        int max = options.MaxToolResultChars;
        return text.Length <= max ? text : string.Concat(text.AsSpan(0, max), $"\n[Truncated by Qlaud: showing {max} of {text.Length} characters.]");
    }

    private static string Text(CallToolResult result)
    {
        var text = new StringBuilder();
        foreach (var block in result.Content)
        {
            if (text.Length > 0)
            {
                text.Append('\n');
            }

            text.Append(block is TextContentBlock t ? t.Text : $"[{block.Type} content]");
        }

        if (text.Length == 0 && result.StructuredContent is { } structured)
        {
            text.Append(structured.GetRawText());
        }

        return text.ToString();
    }

    private static JsonElement Arguments(AIFunctionArguments arguments)
        => JsonSerializer.SerializeToElement(arguments.ToDictionary(static p => p.Key, static p => p.Value), ToolJsonContext.Default.DictionaryStringObject);

}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, object?>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string?>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(List<Dictionary<string, string?>>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonElement))]
[System.Text.Json.Serialization.JsonSerializable(typeof(IDictionary<string, object?>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonObject))]
internal sealed partial class ToolJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
