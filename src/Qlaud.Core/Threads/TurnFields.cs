using System.Text.Json;

namespace Qlaud.Threads;

/// <summary>The fields of a posted turn that Qlaud reads itself (the rest are sent on as they are).</summary>
internal sealed record TurnFields(string? Model, int MaxTokens, string ContentJson, bool Stream, JsonElement System, JsonElement Tools, string? Strategy = null)
{
    /// <summary><c>tools_mode</c>: <c>dynamic</c>, <c>static</c> or <c>none</c>; null when the turn did not say.</summary>
    public string? ToolsMode { get; init; }

    private static readonly HashSet<string> Known =
        ["model", "max_tokens", "content", "stream", "system", "temperature", "top_p", "top_k", "stop_sequences", "metadata", "tools", "tool_choice", "thinking", "context", "tools_mode"];

    /// <summary>Reads <paramref name="body"/>; returns the problem, or null and the fields.</summary>
    public static string? Parse(JsonElement body, out TurnFields fields)
    {
        fields = null!;
        if (body.ValueKind != JsonValueKind.Object)
        {
            return "The request body must be a JSON object.";
        }

        string? model = null;
        int maxTokens = 0;
        string? content = null;
        bool stream = false;
        JsonElement system = default, tools = default;
        string? toolsMode = null;
        string? strategy = null;
        foreach (var property in body.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "model" when value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } m:
                    model = m;
                    break;
                case "model" when value.ValueKind == JsonValueKind.Null:
                    break;
                case "model":
                    return "'model' must be a non-empty string.";
                case "max_tokens" when value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int n) && n > 0:
                    maxTokens = n;
                    break;
                case "max_tokens":
                    return "'max_tokens' must be a positive integer.";
                case "content" when value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text:
                    content = JsonSerializer.Serialize(new[] { new Dictionary<string, string> { ["type"] = "text", ["text"] = text } }, ThreadJsonContext.Default.DictionaryStringStringArray);
                    break;
                case "content" when value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > 0 && AllBlocks(value):
                    content = value.GetRawText();
                    break;
                case "content":
                    return "'content' must be a non-empty string or a non-empty array of Anthropic content blocks (objects with a 'type').";
                case "stream" when value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    stream = value.ValueKind == JsonValueKind.True;
                    break;
                case "stream":
                    return "'stream' must be a boolean.";
                case "system" when value.ValueKind is JsonValueKind.String or JsonValueKind.Array:
                    system = value;
                    break;
                case "system" when value.ValueKind == JsonValueKind.Null:
                    break;
                case "system":
                    return "'system' must be a string or an array of text blocks.";
                case "tools":
                    tools = value;
                    break;
                case "tools_mode" when value.ValueKind == JsonValueKind.String && value.GetString() is "dynamic" or "static" or "none":
                    toolsMode = value.GetString();
                    break;
                case "tools_mode":
                    return "'tools_mode' must be \"dynamic\", \"static\" or \"none\".";
                case "context" when value.ValueKind == JsonValueKind.Object:
                    foreach (var option in value.EnumerateObject())
                    {
                        if (option.Name != "strategy" || option.Value.ValueKind != JsonValueKind.String)
                        {
                            return "'context' holds only 'strategy': \"truncate\" or \"summarize\".";
                        }

                        strategy = option.Value.GetString();
                    }

                    break;
                case "context":
                    return "'context' must be an object such as {\"strategy\":\"summarize\"}.";
                case "messages":
                    return "'messages' is not accepted here: the thread holds the history. Send the new user message as 'content'.";
                default:
                    if (!Known.Contains(property.Name))
                    {
                        return $"'{property.Name}' is not a field of a thread turn. Fields: model, max_tokens, content, stream, system, temperature, top_p, top_k, stop_sequences, metadata, tools, tool_choice, thinking, context, tools_mode.";
                    }

                    break;
            }
        }

        if (maxTokens == 0)
        {
            return "'max_tokens' is required.";
        }

        if (content is null)
        {
            return "'content' is required: the new user message, a string or Anthropic content blocks.";
        }

        fields = new TurnFields(model, maxTokens, content, stream, system, tools, strategy) { ToolsMode = toolsMode };
        return null;
    }

    private static bool AllBlocks(JsonElement array)
    {
        foreach (var block in array.EnumerateArray())
        {
            if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                return false;
            }
        }

        return true;
    }
}
