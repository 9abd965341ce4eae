using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.OpenAI;

internal sealed partial class OpenAIDialect
{
    private const string MaxCompletionTokens = "max_completion_tokens";

    /// <inheritdoc />
    public CanonicalChatRequest ReadRequest(ReadOnlySpan<byte> utf8Json)
    {
        var root = ParseBody(utf8Json, QlaudErrorKind.InvalidRequest, "request");
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("The request body must be a JSON object.");
        }

        var options = new ChatOptions();
        AdditionalPropertiesDictionary extra = [];
        List<ChatMessage>? messages = null;
        var stream = false;
        int? maxTokens = null;
        int? maxCompletionTokens = null;
        JsonElement maxTokensRaw = default;

        foreach (var property in root.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "model":
                    options.ModelId = value.ValueKind == JsonValueKind.String ? value.GetString() : throw Invalid("model must be a string.");
                    break;
                case "messages":
                    messages = ReadMessages(value);
                    break;
                case "temperature":
                    options.Temperature = OptionalSingle(value, "temperature");
                    break;
                case "top_p":
                    options.TopP = OptionalSingle(value, "top_p");
                    break;
                case "frequency_penalty":
                    options.FrequencyPenalty = OptionalSingle(value, "frequency_penalty");
                    break;
                case "presence_penalty":
                    options.PresencePenalty = OptionalSingle(value, "presence_penalty");
                    break;
                case "max_tokens":
                    maxTokens = OptionalInt32(value, "max_tokens");
                    maxTokensRaw = value;
                    break;
                case MaxCompletionTokens:
                    maxCompletionTokens = OptionalInt32(value, MaxCompletionTokens);
                    break;
                case "stop":
                    options.StopSequences = ReadStop(value);
                    break;
                case "seed":
                    options.Seed = OptionalInt64(value, "seed");
                    break;
                case "tools":
                    options.Tools = ReadTools(value);
                    break;
                case "tool_choice":
                    ReadToolChoice(value, options, extra);
                    break;
                case "parallel_tool_calls":
                    options.AllowMultipleToolCalls = OptionalBoolean(value, "parallel_tool_calls");
                    break;
                case "response_format":
                    ReadResponseFormat(value, options, extra);
                    break;
                case "reasoning_effort":
                    ReadReasoningEffort(value, options, extra);
                    break;
                case "user":
                    if (OptionalString(value, "user") is { } user)
                    {
                        extra[CanonicalKeys.EndUser] = user;
                    }

                    break;
                case "stream":
                    stream = OptionalBoolean(value, "stream") ?? false;
                    break;
                default:
                    // stream_options, n, logprobs, metadata, provider-specific fields (top_k, provider, …): kept verbatim.
                    extra[Prefix + property.Name] = value;
                    break;
            }
        }

        if (options.ModelId is null)
        {
            throw Invalid("model is required.");
        }

        if (messages is null)
        {
            throw Invalid("messages is required.");
        }

        if (maxCompletionTokens is not null)
        {
            options.MaxOutputTokens = maxCompletionTokens;
            extra[CanonicalKeys.MaxTokensField] = MaxCompletionTokens;
            if (maxTokens is not null)
            {
                extra[Prefix + "max_tokens"] = maxTokensRaw;
            }
        }
        else
        {
            options.MaxOutputTokens = maxTokens;
        }

        if (extra.Count > 0)
        {
            options.AdditionalProperties = extra;
        }

        return new CanonicalChatRequest(messages, options, stream);
    }

    /// <inheritdoc />
    public void WriteRequest(Utf8JsonWriter writer, CanonicalChatRequest request, string upstreamModel)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(upstreamModel);

        var options = request.Options;
        var properties = options.AdditionalProperties;
        List<string> written = ["model", "messages", "stream", "stream_options"];

        writer.WriteStartObject();
        writer.WriteString("model", upstreamModel);

        writer.WriteStartArray("messages");
        if (!string.IsNullOrEmpty(options.Instructions))
        {
            writer.WriteStartObject();
            writer.WriteString("role", "system");
            writer.WriteString("content", options.Instructions);
            writer.WriteEndObject();
        }

        var messages = request.Messages;
        for (var i = 0; i < messages.Count; i++)
        {
            WriteMessage(writer, messages[i]);
        }

        writer.WriteEndArray();

        if (options.MaxOutputTokens is int maxOutputTokens)
        {
            var field = properties?.TryGetValue(CanonicalKeys.MaxTokensField, out var spelling) is true && spelling is MaxCompletionTokens
                ? MaxCompletionTokens
                : "max_tokens";
            writer.WriteNumber(field, maxOutputTokens);
            written.Add(field);
        }

        WriteOptionalNumber(writer, "temperature", options.Temperature, written);
        WriteOptionalNumber(writer, "top_p", options.TopP, written);
        WriteOptionalNumber(writer, "frequency_penalty", options.FrequencyPenalty, written);
        WriteOptionalNumber(writer, "presence_penalty", options.PresencePenalty, written);
        if (options.Seed is long seed)
        {
            writer.WriteNumber("seed", seed);
            written.Add("seed");
        }

        if (options.StopSequences is { Count: > 0 } stop)
        {
            writer.WriteStartArray("stop");
            for (var i = 0; i < stop.Count; i++)
            {
                writer.WriteStringValue(stop[i]);
            }

            writer.WriteEndArray();
            written.Add("stop");
        }

        if (options.ResponseFormat is { } responseFormat && WriteResponseFormat(writer, responseFormat, properties))
        {
            written.Add("response_format");
        }

        if (options.Reasoning?.Effort is { } effort && properties?.ContainsKey(Prefix + "reasoning_effort") is not true)
        {
            writer.WriteString("reasoning_effort", effort switch
            {
                ReasoningEffort.None => "none",
                ReasoningEffort.Low => "low",
                ReasoningEffort.High => "high",
                ReasoningEffort.ExtraHigh => "xhigh",
                _ => "medium",
            });
            written.Add("reasoning_effort");
        }

        var hasTools = WriteTools(writer, options.Tools);
        if (hasTools)
        {
            written.Add("tools");
            if (options.ToolMode is { } toolMode)
            {
                WriteToolChoice(writer, toolMode);
                written.Add("tool_choice");
            }

            if (options.AllowMultipleToolCalls is bool parallel)
            {
                writer.WriteBoolean("parallel_tool_calls", parallel);
                written.Add("parallel_tool_calls");
            }
        }
        else
        {
            // Some providers reject tool_choice and parallel_tool_calls without tools.
            written.Add("tool_choice");
            written.Add("parallel_tool_calls");
        }

        if (properties?.TryGetValue(CanonicalKeys.EndUser, out var endUser) is true && endUser is string user)
        {
            writer.WriteString("user", user);
            written.Add("user");
        }

        if (request.Stream)
        {
            writer.WriteBoolean("stream", true);
            WriteStreamOptions(writer, properties);
        }

        if (properties is not null)
        {
            foreach (var pair in properties)
            {
                if (IsOwnKey(pair.Key) && !written.Contains(pair.Key[Prefix.Length..]))
                {
                    writer.WritePropertyName(pair.Key.AsSpan(Prefix.Length));
                    CanonicalJson.WriteValue(writer, pair.Value);
                }
            }
        }

        writer.WriteEndObject();
    }

    private static List<string>? ReadStop(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                return [value.GetString()!];
            case JsonValueKind.Array:
                var stop = new List<string>(value.GetArrayLength());
                foreach (var item in value.EnumerateArray())
                {
                    stop.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw Invalid("stop must be a string or an array of strings."));
                }

                return stop;
            default:
                throw Invalid("stop must be a string or an array of strings.");
        }
    }

    private static List<AITool>? ReadTools(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Invalid("tools must be an array.");
        }

        var tools = new List<AITool>(value.GetArrayLength());
        var index = 0;
        foreach (var tool in value.EnumerateArray())
        {
            var path = $"tools[{index++}]";
            if (tool.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(path + " must be an object.");
            }

            var type = tool.TryGetProperty("type", out var typeValue) && typeValue.ValueKind == JsonValueKind.String ? typeValue.GetString()! : "function";
            if (type != "function")
            {
                tools.Add(new OpenAIRawTool(type, tool));
                continue;
            }

            if (!tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(path + ".function is required.");
            }

            var name = function.TryGetProperty("name", out var nameValue) && nameValue.ValueKind == JsonValueKind.String
                ? nameValue.GetString()!
                : throw Invalid(path + ".function.name is required.");
            var description = function.TryGetProperty("description", out var descriptionValue)
                ? OptionalString(descriptionValue, path + ".function.description")
                : null;
            JsonElement? parameters = null;
            if (function.TryGetProperty("parameters", out var parametersValue) && parametersValue.ValueKind != JsonValueKind.Null)
            {
                parameters = parametersValue.ValueKind == JsonValueKind.Object ? parametersValue : throw Invalid(path + ".function.parameters must be an object.");
            }

            var strict = function.TryGetProperty("strict", out var strictValue) ? OptionalBoolean(strictValue, path + ".function.strict") : null;
            tools.Add(new OpenAIFunctionDeclaration(name, description, parameters, strict, tool));
        }

        return tools;
    }

    private static void ReadToolChoice(JsonElement value, ChatOptions options, AdditionalPropertiesDictionary extra)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            ChatToolMode? mode = value.GetString() switch
            {
                "auto" => ChatToolMode.Auto,
                "none" => ChatToolMode.None,
                "required" => ChatToolMode.RequireAny,
                _ => null,
            };
            if (mode is not null)
            {
                options.ToolMode = mode;
                return;
            }
        }
        else if (value.ValueKind == JsonValueKind.Object
            && value.TryGetProperty("type", out var type) && type.ValueEquals("function"u8)
            && value.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
            && function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
        {
            options.ToolMode = ChatToolMode.RequireSpecific(name.GetString()!);
            return;
        }
        else if (value.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        // allowed_tools, custom tool choice and whatever comes next: kept verbatim.
        extra[Prefix + "tool_choice"] = value;
    }

    private static void ReadResponseFormat(JsonElement value, ChatOptions options, AdditionalPropertiesDictionary extra)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            throw Invalid("response_format must be an object with a type.");
        }

        if (type.ValueEquals("text"u8))
        {
            options.ResponseFormat = ChatResponseFormat.Text;
            return;
        }

        if (type.ValueEquals("json_object"u8))
        {
            options.ResponseFormat = ChatResponseFormat.Json;
            return;
        }

        if (type.ValueEquals("json_schema"u8)
            && value.TryGetProperty("json_schema", out var jsonSchema) && jsonSchema.ValueKind == JsonValueKind.Object
            && jsonSchema.TryGetProperty("schema", out var schema) && schema.ValueKind == JsonValueKind.Object)
        {
            var name = jsonSchema.TryGetProperty("name", out var nameValue) ? OptionalString(nameValue, "response_format.json_schema.name") : null;
            var description = jsonSchema.TryGetProperty("description", out var descriptionValue)
                ? OptionalString(descriptionValue, "response_format.json_schema.description")
                : null;
            options.ResponseFormat = new ChatResponseFormatJson(schema, name, description);
            if (jsonSchema.TryGetProperty("strict", out var strictValue) && OptionalBoolean(strictValue, "response_format.json_schema.strict") is bool strict)
            {
                extra[JsonSchemaStrictKey] = strict;
            }

            return;
        }

        extra[Prefix + "response_format"] = value;
    }

    private static void ReadReasoningEffort(JsonElement value, ChatOptions options, AdditionalPropertiesDictionary extra)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        ReasoningEffort? effort = value.ValueKind != JsonValueKind.String ? null : value.GetString() switch
        {
            "none" => ReasoningEffort.None,
            "low" => ReasoningEffort.Low,
            "medium" => ReasoningEffort.Medium,
            "high" => ReasoningEffort.High,
            "xhigh" => ReasoningEffort.ExtraHigh,
            _ => null,
        };

        if (effort is not null)
        {
            options.Reasoning = new ReasoningOptions { Effort = effort };
        }
        else
        {
            // "minimal" and provider values ("max") have no canonical level: kept verbatim.
            extra[Prefix + "reasoning_effort"] = value;
        }
    }

    private static bool WriteTools(Utf8JsonWriter writer, IList<AITool>? tools)
    {
        if (tools is null)
        {
            return false;
        }

        var started = false;
        for (var i = 0; i < tools.Count; i++)
        {
            var tool = tools[i];
            if (tool is not (AIFunctionDeclaration or OpenAIRawTool))
            {
                // Hosted tools of other services have no Chat Completions form.
                continue;
            }

            if (!started)
            {
                writer.WriteStartArray("tools");
                started = true;
            }

            switch (tool)
            {
                case OpenAIFunctionDeclaration { Raw: { } raw }:
                    raw.WriteTo(writer);
                    break;
                case OpenAIRawTool rawTool:
                    rawTool.Raw.WriteTo(writer);
                    break;
                case AIFunctionDeclaration function:
                    writer.WriteStartObject();
                    writer.WriteString("type", "function");
                    writer.WriteStartObject("function");
                    writer.WriteString("name", function.Name);
                    if (!string.IsNullOrEmpty(function.Description))
                    {
                        writer.WriteString("description", function.Description);
                    }

                    if (function is not OpenAIFunctionDeclaration { Parameters: null })
                    {
                        writer.WritePropertyName("parameters");
                        function.JsonSchema.WriteTo(writer);
                    }

                    if (GetStrict(function) is bool strict)
                    {
                        writer.WriteBoolean("strict", strict);
                    }

                    writer.WriteEndObject();
                    writer.WriteEndObject();
                    break;
            }
        }

        if (started)
        {
            writer.WriteEndArray();
        }

        return started;
    }

    private static bool? GetStrict(AITool tool)
    {
        var properties = tool.AdditionalProperties;
        if ((properties.TryGetValue("strict", out var value) || properties.TryGetValue("Strict", out value)) && value is bool strict)
        {
            return strict;
        }

        return null;
    }

    private static void WriteToolChoice(Utf8JsonWriter writer, ChatToolMode toolMode)
    {
        switch (toolMode)
        {
            case NoneChatToolMode:
                writer.WriteString("tool_choice", "none");
                break;
            case RequiredChatToolMode { RequiredFunctionName: { } functionName }:
                writer.WriteStartObject("tool_choice");
                writer.WriteString("type", "function");
                writer.WriteStartObject("function");
                writer.WriteString("name", functionName);
                writer.WriteEndObject();
                writer.WriteEndObject();
                break;
            case RequiredChatToolMode:
                writer.WriteString("tool_choice", "required");
                break;
            default:
                writer.WriteString("tool_choice", "auto");
                break;
        }
    }

    private static bool WriteResponseFormat(Utf8JsonWriter writer, ChatResponseFormat format, AdditionalPropertiesDictionary? properties)
    {
        switch (format)
        {
            case ChatResponseFormatText:
                writer.WriteStartObject("response_format");
                writer.WriteString("type", "text");
                writer.WriteEndObject();
                return true;
            case ChatResponseFormatJson { Schema: { } schema } json:
                writer.WriteStartObject("response_format");
                writer.WriteString("type", "json_schema");
                writer.WriteStartObject("json_schema");
                writer.WriteString("name", json.SchemaName ?? "response");
                if (json.SchemaDescription is { } description)
                {
                    writer.WriteString("description", description);
                }

                writer.WritePropertyName("schema");
                schema.WriteTo(writer);

                // Unknown strictness is left to the upstream: strict mode rejects schemas that are not written for it.
                if (properties?.TryGetValue(JsonSchemaStrictKey, out var strictValue) is true && strictValue is bool strict)
                {
                    writer.WriteBoolean("strict", strict);
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
                return true;
            case ChatResponseFormatJson:
                writer.WriteStartObject("response_format");
                writer.WriteString("type", "json_object");
                writer.WriteEndObject();
                return true;
            default:
                return false;
        }
    }

    private static void WriteStreamOptions(Utf8JsonWriter writer, AdditionalPropertiesDictionary? properties)
    {
        // Usage is always asked for: the gateway meters every stream, whether or not the client wants the usage chunk.
        writer.WriteStartObject("stream_options");
        if (properties?.TryGetValue(Prefix + "stream_options", out var value) is true && value is JsonElement { ValueKind: JsonValueKind.Object } clientOptions)
        {
            foreach (var property in clientOptions.EnumerateObject())
            {
                if (!property.NameEquals("include_usage"u8))
                {
                    property.WriteTo(writer);
                }
            }
        }

        writer.WriteBoolean("include_usage", true);
        writer.WriteEndObject();
    }

    private static void WriteOptionalNumber(Utf8JsonWriter writer, string name, float? value, List<string> written)
    {
        if (value is float number)
        {
            writer.WriteNumber(name, number);
            written.Add(name);
        }
    }
}
