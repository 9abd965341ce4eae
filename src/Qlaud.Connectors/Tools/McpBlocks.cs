using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Qlaud.Metering;
using Qlaud.Threads;

namespace Qlaud.Connectors.Tools;

/// <summary>Anthropic's MCP-connector content blocks: what the loop did, as <c>mcp_tool_use</c> (<c>id</c>, <c>name</c>,
/// <c>server_name</c>, <c>input</c>) and <c>mcp_tool_result</c> (<c>tool_use_id</c>, <c>is_error</c>, <c>content</c>) blocks, and
/// back into the <c>tool_use</c>/<c>tool_result</c> turns any model understands when a later turn sends the history.</summary>
internal static class McpBlocks
{
    /// <summary>Rewrites the history of an Anthropic request: each assistant message holding <c>mcp_tool_use</c>/<c>mcp_tool_result</c>
    /// blocks becomes assistant <c>tool_use</c> turns answered by user <c>tool_result</c> turns.</summary>
    public static byte[] ExpandHistory(ReadOnlySpan<byte> request)
    {
        var root = JsonNode.Parse(request)!.AsObject();
        if (root["messages"] is not JsonArray messages || !request.ToArray().AsSpan().ContainsAny("\"mcp_tool_"u8.ToArray()))
        {
            return request.ToArray();
        }

        var expanded = new JsonArray();
        foreach (var node in messages.ToList())
        {
            messages.Remove(node);
            var message = node!.AsObject();
            if (message["role"]?.GetValue<string>() != "assistant" || message["content"] is not JsonArray blocks || !blocks.Any(IsMcp))
            {
                expanded.Add(message);
                continue;
            }

            var assistant = new JsonArray();
            var results = new JsonArray();
            foreach (var blockNode in blocks.ToList())
            {
                blocks.Remove(blockNode);
                var block = blockNode!.AsObject();
                switch (block["type"]?.GetValue<string>())
                {
                    case "mcp_tool_use":
                        Flush(expanded, results, "user");
                        string server = block["server_name"]?.GetValue<string>() ?? ToolRuntime.ServerName;
                        string name = block["name"]?.GetValue<string>() ?? "";
                        assistant.Add(new JsonObject
                        {
                            ["type"] = "tool_use",
                            ["id"] = block["id"]?.DeepClone(),
                            ["name"] = server == ToolRuntime.ServerName ? name : server + ConnectorTool.Separator + name,
                            ["input"] = block["input"]?.DeepClone() ?? new JsonObject(),
                        });
                        break;
                    case "mcp_tool_result":
                        Flush(expanded, assistant, "assistant");
                        results.Add(new JsonObject
                        {
                            ["type"] = "tool_result",
                            ["tool_use_id"] = block["tool_use_id"]?.DeepClone(),
                            ["is_error"] = block["is_error"]?.DeepClone() ?? false,
                            ["content"] = block["content"]?.DeepClone() ?? new JsonArray(),
                        });
                        break;
                    default:
                        Flush(expanded, results, "user");
                        assistant.Add(block);
                        break;
                }
            }

            Flush(expanded, assistant, "assistant");
            Flush(expanded, results, "user");
        }

        root["messages"] = expanded;
        return JsonSerializer.SerializeToUtf8Bytes(root, ToolJsonContext.Default.Options);
    }

    /// <summary>The reply of a loop run as Anthropic content blocks, in the order things happened.</summary>
    public static CapturedReply ToReply(ChatResponse response, ToolRuntime runtime, ISet<string> serverTools, TokenUsage usage, int roundTrips, int maxRounds)
    {
        var content = new System.Buffers.ArrayBufferWriter<byte>();
        bool clientToolUse = false, pendingServerCall = false;
        using (var w = new Utf8JsonWriter(content))
        {
            w.WriteStartArray();
            var resolved = new HashSet<string>(StringComparer.Ordinal);
            foreach (var message in response.Messages)
            {
                foreach (var item in message.Contents)
                {
                    if (item is FunctionResultContent r)
                    {
                        resolved.Add(r.CallId);
                    }
                }
            }

            foreach (var message in response.Messages)
            {
                foreach (var item in message.Contents)
                {
                    switch (item)
                    {
                        case TextContent { Text.Length: > 0 } text when message.Role == ChatRole.Assistant:
                            w.WriteStartObject();
                            w.WriteString("type", "text");
                            w.WriteString("text", text.Text);
                            w.WriteEndObject();
                            break;
                        case FunctionCallContent call when serverTools.Contains(call.Name):
                            if (!resolved.Contains(call.CallId))
                            {
                                pendingServerCall = true;
                                break;
                            }

                            WriteMcpToolUse(w, call);
                            break;
                        case FunctionCallContent call:
                            clientToolUse = true;
                            WriteToolUse(w, call);
                            break;
                        case FunctionResultContent result:
                            WriteMcpToolResult(w, result, runtime);
                            break;
                    }
                }
            }

            w.WriteEndArray();
        }

        string stop = StopReason(clientToolUse, pendingServerCall, roundTrips, maxRounds, response.FinishReason);
        return new CapturedReply(System.Text.Encoding.UTF8.GetString(content.WrittenSpan), stop, usage, Complete: true)
        {
            MessageId = response.ResponseId,
            Model = response.ModelId,
        };
    }

    /// <summary>The stop reason of a loop run: <c>tool_use</c> when it ends on the client's own tools, <c>max_tool_rounds</c> when
    /// the round trips ran out with a server tool call unanswered.</summary>
    public static string StopReason(bool clientToolUse, bool pendingServerCall, int roundTrips, int maxRounds, ChatFinishReason? finish)
        => clientToolUse ? "tool_use"
            : pendingServerCall && roundTrips >= maxRounds ? "max_tool_rounds"
            : finish == ChatFinishReason.Length ? "max_tokens"
            : "end_turn";

    /// <summary>One block, written by <paramref name="write"/>, as a JSON element.</summary>
    public static JsonElement Block<T>(T state, Action<Utf8JsonWriter, T> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            write(w, state);
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    /// <summary>An <c>mcp_tool_use</c> block for a server tool call (a meta-tool's server is <see cref="ToolRuntime.ServerName"/>).</summary>
    public static void WriteMcpToolUse(Utf8JsonWriter w, FunctionCallContent call)
    {
        w.WriteStartObject();
        w.WriteString("type", "mcp_tool_use");
        w.WriteString("id", call.CallId);
        bool meta = !ConnectorTool.TrySplit(call.Name, out var connectorId, out var tool);
        w.WriteString("name", meta ? call.Name : tool);
        w.WriteString("server_name", meta ? ToolRuntime.ServerName : connectorId);
        w.WritePropertyName("input");
        JsonSerializer.Serialize(w, call.Arguments ?? new Dictionary<string, object?>(), ToolJsonContext.Default.IDictionaryStringObject);
        w.WriteEndObject();
    }

    /// <summary>A <c>tool_use</c> block for a call of one of the client's own tools.</summary>
    public static void WriteToolUse(Utf8JsonWriter w, FunctionCallContent call)
    {
        w.WriteStartObject();
        w.WriteString("type", "tool_use");
        w.WriteString("id", call.CallId);
        w.WriteString("name", call.Name);
        w.WritePropertyName("input");
        JsonSerializer.Serialize(w, call.Arguments ?? new Dictionary<string, object?>(), ToolJsonContext.Default.IDictionaryStringObject);
        w.WriteEndObject();
    }

    /// <summary>An <c>mcp_tool_result</c> block for a server tool's result.</summary>
    public static void WriteMcpToolResult(Utf8JsonWriter w, FunctionResultContent result, ToolRuntime runtime)
    {
        w.WriteStartObject();
        w.WriteString("type", "mcp_tool_result");
        w.WriteString("tool_use_id", result.CallId);
        w.WriteBoolean("is_error", result.Exception is not null || runtime.Failed(result.CallId));
        w.WriteStartArray("content");
        w.WriteStartObject();
        w.WriteString("type", "text");
        w.WriteString("text", ResultText(result));
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static string ResultText(FunctionResultContent result) => result.Result switch
    {
        null => result.Exception?.Message ?? "",
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString()!,
        JsonElement e => e.GetRawText(),
        var other => other.ToString() ?? "",
    };

    private static bool IsMcp(JsonNode? block) => block?["type"]?.GetValue<string>() is "mcp_tool_use" or "mcp_tool_result";

    private static void Flush(JsonArray into, JsonArray blocks, string role)
    {
        if (blocks.Count == 0)
        {
            return;
        }

        var moved = new JsonArray();
        foreach (var block in blocks.ToList())
        {
            blocks.Remove(block);
            moved.Add(block);
        }

        into.Add(new JsonObject { ["role"] = role, ["content"] = moved });
    }
}
