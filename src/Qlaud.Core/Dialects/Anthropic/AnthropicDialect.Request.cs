using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.Anthropic;

// Requests: POST /v1/messages bodies.
internal sealed partial class AnthropicDialect
{
    /// <summary>Top-level request fields that <see cref="WriteRequest(Utf8JsonWriter, CanonicalChatRequest, string, bool)"/> writes itself; <c>anthropic:*</c> keys of the same
    /// name are not written again.</summary>
    private static readonly string[] s_requestFields =
        ["model", "messages", "max_tokens", "system", "stop_sequences", "temperature", "top_p", "top_k", "tools", "tool_choice", "stream"];

    private static readonly string[] s_messageFields = ["role", "content"];
    private static readonly string[] s_toolFields = ["name", "description", "input_schema"];

    private const int MaxJsonDepth = 256;

    /// <inheritdoc />
    /// <remarks>
    /// <c>max_tokens</c>, <c>model</c> and <c>messages</c> are required, as Anthropic requires them. <c>thinking</c> is kept
    /// raw under <c>anthropic:thinking</c> and also mapped to <see cref="ChatOptions.Reasoning"/> (budget → effort:
    /// &lt;4096 low, &lt;16384 medium, &lt;32768 high, else extra high; adaptive → <c>output_config.effort</c> or high;
    /// disabled → none).
    /// </remarks>
    public CanonicalChatRequest ReadRequest(ReadOnlySpan<byte> utf8Json) => ReadRequest(utf8Json, requireMaxTokens: true, verifier: null);

    /// <summary>
    /// Decodes a request that is going to be translated for another dialect's upstream: every <c>thinking</c> block in an
    /// assistant turn must carry the signature <paramref name="verifier"/> gives its text (Qlaud signed it when it translated
    /// the block); any other signature is the <c>invalid_request_error</c> Anthropic answers for a signature it did not issue.
    /// </summary>
    public CanonicalChatRequest ReadRequest(ReadOnlySpan<byte> utf8Json, ThinkingSigner verifier)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        return ReadRequest(utf8Json, requireMaxTokens: true, verifier);
    }

    /// <summary>
    /// Decodes a <c>POST /v1/messages/count_tokens</c> body: the request shape without <c>max_tokens</c> (and without
    /// <c>stream</c>), as Anthropic's token counting endpoint takes it. Throws <see cref="DialectException"/> on malformed input.
    /// </summary>
    public CanonicalChatRequest ReadCountTokensRequest(ReadOnlySpan<byte> utf8Json) => ReadRequest(utf8Json, requireMaxTokens: false, verifier: null);

    private static CanonicalChatRequest ReadRequest(ReadOnlySpan<byte> utf8Json, bool requireMaxTokens, ThinkingSigner? verifier)
    {
        JsonElement root = ParseBody(utf8Json, "request");
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("The request body must be a JSON object.");
        }

        var options = new ChatOptions();
        var additional = new AdditionalPropertiesDictionary();
        bool stream = false;
        JsonElement system = default, messages = default, thinking = default, outputConfig = default;
        foreach (var property in root.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "model":
                    if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } model)
                    {
                        throw Invalid("model must be a non-empty string.");
                    }

                    options.ModelId = model;
                    break;
                case "messages":
                    messages = value;
                    break;
                case "system":
                    system = value;
                    break;
                case "max_tokens":
                    if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int maxTokens) || maxTokens < 1)
                    {
                        throw Invalid("max_tokens must be a positive integer.");
                    }

                    options.MaxOutputTokens = maxTokens;
                    break;
                case "temperature":
                    options.Temperature = ReadFloat(value, "temperature");
                    break;
                case "top_p":
                    options.TopP = ReadFloat(value, "top_p");
                    break;
                case "top_k":
                    if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int topK) || topK < 0)
                    {
                        throw Invalid("top_k must be a non-negative integer.");
                    }

                    options.TopK = topK;
                    break;
                case "stop_sequences":
                    options.StopSequences = ReadStopSequences(value);
                    break;
                case "stream":
                    if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    {
                        throw Invalid("stream must be a boolean.");
                    }

                    stream = value.ValueKind == JsonValueKind.True;
                    break;
                case "tools":
                    options.Tools = ReadTools(value);
                    break;
                case "tool_choice":
                    ReadToolChoice(value, options);
                    break;
                case "metadata":
                    ReadMetadata(value, additional);
                    break;
                case "thinking":
                    if (value.ValueKind != JsonValueKind.Object)
                    {
                        throw Invalid("thinking must be an object.");
                    }

                    thinking = value;
                    additional[Key("thinking")] = value;
                    break;
                case "output_config":
                    outputConfig = value;
                    additional[Key("output_config")] = value;
                    if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("format", out var format))
                    {
                        options.ResponseFormat = ReadOutputFormat(format, "output_config.format");
                    }

                    break;
                case "output_format":
                    // The structured-outputs beta's field, still accepted by Anthropic; output_config.format wins when both are sent.
                    additional[Key("output_format")] = value;
                    options.ResponseFormat ??= ReadOutputFormat(value, "output_format");
                    break;
                default:
                    // service_tier, container, mcp_servers, context_management, … and fields newer than this code.
                    additional[Key(property.Name)] = value;
                    break;
            }
        }

        if (options.ModelId is null)
        {
            throw Invalid("model is required.");
        }

        if (options.MaxOutputTokens is null && requireMaxTokens)
        {
            throw Invalid("max_tokens is required.");
        }

        if (messages.ValueKind != JsonValueKind.Array)
        {
            throw Invalid("messages is required and must be an array.");
        }

        if (thinking.ValueKind == JsonValueKind.Object)
        {
            options.Reasoning = ReadReasoning(thinking, outputConfig);
        }

        var conversation = new List<ChatMessage>(messages.GetArrayLength() + 1);
        ReadSystem(system, conversation);
        ReadMessages(messages, conversation, verifier);
        if (additional.Count > 0)
        {
            options.AdditionalProperties = additional;
        }

        return new CanonicalChatRequest(conversation, options, stream);
    }

    /// <summary>Parses a body into a <see cref="JsonElement"/> that owns its memory, so parts of it can be kept.</summary>
    private static JsonElement ParseBody(ReadOnlySpan<byte> utf8Json, string what)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = MaxJsonDepth });
            return JsonElement.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            throw new DialectException(QlaudErrorKind.InvalidRequest, $"The {what} body is not valid JSON: {ex.Message}", ex);
        }
    }

    private static float ReadFloat(JsonElement value, string name)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double number))
        {
            throw Invalid($"{name} must be a number.");
        }

        return (float)number;
    }

    private static List<string> ReadStopSequences(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Invalid("stop_sequences must be an array of strings.");
        }

        var sequences = new List<string>(value.GetArrayLength());
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw Invalid("stop_sequences must be an array of strings.");
            }

            sequences.Add(item.GetString()!);
        }

        return sequences;
    }

    private static void ReadMetadata(JsonElement value, AdditionalPropertiesDictionary additional)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("metadata must be an object.");
        }

        bool onlyUserId = true;
        foreach (var property in value.EnumerateObject())
        {
            if (property.Name == "user_id" && property.Value.ValueKind == JsonValueKind.String)
            {
                additional[CanonicalKeys.EndUser] = property.Value.GetString();
            }
            else
            {
                onlyUserId = false;
            }
        }

        if (!onlyUserId)
        {
            // Fields beyond a string user_id travel verbatim; the end user is still read from user_id.
            additional[Key("metadata")] = value;
        }
    }

    /// <summary>
    /// Reads structured outputs' <c>{"type":"json_schema","schema":{…}}</c> into <see cref="ChatOptions.ResponseFormat"/>, so
    /// an OpenAI-dialect upstream gets it as <c>response_format</c> <c>json_schema</c> (strictness left to the upstream's default:
    /// OpenAI's strict mode also requires every property to be listed in <c>required</c>, which Anthropic does not).
    /// </summary>
    private static ChatResponseFormat? ReadOutputFormat(JsonElement format, string path)
    {
        if (format.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (format.ValueKind != JsonValueKind.Object || !format.TryGetProperty("type", out var type) || !type.ValueEquals("json_schema"u8))
        {
            throw Invalid($"{path}.type must be json_schema.");
        }

        if (!format.TryGetProperty("schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{path}.schema is required and must be an object.");
        }

        return ChatResponseFormat.ForJsonSchema(schema);
    }

    private static ReasoningOptions ReadReasoning(JsonElement thinking, JsonElement outputConfig)
    {
        string? type = thinking.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var reasoning = new ReasoningOptions();
        switch (type)
        {
            case "enabled":
                if (!thinking.TryGetProperty("budget_tokens", out var budget) || budget.ValueKind != JsonValueKind.Number
                    || !budget.TryGetInt32(out int tokens) || tokens < 0)
                {
                    throw Invalid("thinking.budget_tokens is required and must be a non-negative integer when thinking.type is enabled.");
                }

                reasoning.Effort = tokens < 4096 ? ReasoningEffort.Low
                    : tokens < 16384 ? ReasoningEffort.Medium
                    : tokens < 32768 ? ReasoningEffort.High
                    : ReasoningEffort.ExtraHigh;
                break;
            case "adaptive":
                string? effort = outputConfig.ValueKind == JsonValueKind.Object && outputConfig.TryGetProperty("effort", out var e)
                    && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
                reasoning.Effort = effort switch
                {
                    "low" => ReasoningEffort.Low,
                    "medium" => ReasoningEffort.Medium,
                    "max" => ReasoningEffort.ExtraHigh,
                    _ => ReasoningEffort.High, // Anthropic's default effort
                };
                break;
            case "disabled":
                reasoning.Effort = ReasoningEffort.None;
                reasoning.Output = ReasoningOutput.None;
                break;
            default:
                throw Invalid("thinking.type must be enabled, adaptive or disabled.");
        }

        if (thinking.TryGetProperty("display", out var display) && display.ValueKind == JsonValueKind.String)
        {
            reasoning.Output = display.GetString() switch
            {
                "omitted" => ReasoningOutput.None,
                "summarized" => ReasoningOutput.Summary,
                _ => reasoning.Output,
            };
        }

        return reasoning;
    }

    private static List<AITool> ReadTools(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Invalid("tools must be an array.");
        }

        var tools = new List<AITool>(value.GetArrayLength());
        int i = 0;
        foreach (var tool in value.EnumerateArray())
        {
            if (tool.ValueKind != JsonValueKind.Object)
            {
                throw Invalid($"tools[{i}] must be an object.");
            }

            string? type = tool.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (type is not (null or "custom"))
            {
                tools.Add(new AnthropicServerTool(tool));
                i++;
                continue;
            }

            if (!tool.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || name.GetString() is not { Length: > 0 } toolName)
            {
                throw Invalid($"tools[{i}].name is required and must be a non-empty string.");
            }

            if (!tool.TryGetProperty("input_schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
            {
                throw Invalid($"tools[{i}].input_schema is required and must be an object.");
            }

            string? description = null;
            if (tool.TryGetProperty("description", out var d))
            {
                if (d.ValueKind != JsonValueKind.String)
                {
                    throw Invalid($"tools[{i}].description must be a string.");
                }

                description = d.GetString();
            }

            var extras = ReadExtras(tool, s_toolFields);
            if (type is not null)
            {
                (extras ??= [])[Key("type")] = t;
            }

            tools.Add(new AnthropicToolDeclaration(toolName, description, schema, extras));
            i++;
        }

        return tools;
    }

    private static void ReadToolChoice(JsonElement value, ChatOptions options)
    {
        if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            throw Invalid("tool_choice must be an object with a type.");
        }

        options.ToolMode = type.GetString() switch
        {
            "auto" => ChatToolMode.Auto,
            "any" => ChatToolMode.RequireAny,
            "none" => ChatToolMode.None,
            "tool" => value.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String && name.GetString() is { Length: > 0 } toolName
                ? ChatToolMode.RequireSpecific(toolName)
                : throw Invalid("tool_choice.name is required when tool_choice.type is tool."),
            _ => throw Invalid("tool_choice.type must be auto, any, tool or none."),
        };

        if (value.TryGetProperty("disable_parallel_tool_use", out var disable))
        {
            if (disable.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                throw Invalid("tool_choice.disable_parallel_tool_use must be a boolean.");
            }

            options.AllowMultipleToolCalls = disable.ValueKind == JsonValueKind.False;
        }
    }

    private static void ReadSystem(JsonElement system, List<ChatMessage> conversation)
    {
        switch (system.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return;
            case JsonValueKind.String:
                conversation.Add(new ChatMessage(ChatRole.System, system.GetString()));
                return;
            case JsonValueKind.Array:
            {
                var contents = new List<AIContent>(system.GetArrayLength());
                int i = 0;
                foreach (var block in system.EnumerateArray())
                {
                    var path = new BlockPath("system", i++);
                    if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("type", out var type) || type.ValueEquals("text") is false)
                    {
                        throw Invalid($"{path} must be a text block.");
                    }

                    contents.Add(ReadBlock(block, path));
                }

                conversation.Add(new ChatMessage(ChatRole.System, contents));
                return;
            }

            default:
                throw Invalid("system must be a string or an array of text blocks.");
        }
    }

    private static void ReadMessages(JsonElement messages, List<ChatMessage> conversation, ThinkingSigner? verifier)
    {
        int i = 0;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object)
            {
                throw Invalid($"messages[{i}] must be an object.");
            }

            if (!message.TryGetProperty("role", out var roleElement) || roleElement.ValueKind != JsonValueKind.String)
            {
                throw Invalid($"messages[{i}].role is required.");
            }

            bool isUser = roleElement.ValueEquals("user");
            if (!isUser && !roleElement.ValueEquals("assistant"))
            {
                if (!roleElement.ValueEquals("system"))
                {
                    throw Invalid($"messages[{i}].role must be user, assistant or system.");
                }

                // Claude Code sends system-role messages inside `messages` (for model names it does not know): they stay at
                // their place in the conversation as system messages.
                ReadSystemMessage(message, i, conversation);
                i++;
                continue;
            }

            var extras = ReadExtras(message, s_messageFields);
            if (!message.TryGetProperty("content", out var content))
            {
                throw Invalid($"messages[{i}].content is required.");
            }

            if (content.ValueKind == JsonValueKind.String)
            {
                conversation.Add(new ChatMessage(isUser ? ChatRole.User : ChatRole.Assistant, content.GetString()) { AdditionalProperties = extras });
            }
            else if (content.ValueKind != JsonValueKind.Array)
            {
                throw Invalid($"messages[{i}].content must be a string or an array of content blocks.");
            }
            else if (!isUser)
            {
                var blocks = ReadBlocks(content, i);
                if (verifier is not null)
                {
                    VerifyThinking(blocks, i, verifier);
                }

                conversation.Add(new ChatMessage(ChatRole.Assistant, blocks) { AdditionalProperties = extras });
            }
            else
            {
                ReadUserTurn(content, i, extras, conversation);
            }

            i++;
        }
    }

    private static void VerifyThinking(List<AIContent> blocks, int messageIndex, ThinkingSigner verifier)
    {
        for (int j = 0; j < blocks.Count; j++)
        {
            if (blocks[j] is TextReasoningContent reasoning && !IsRedacted(reasoning) && !verifier.Verify(reasoning.Text, reasoning.ProtectedData))
            {
                // Anthropic's own wording for a thinking block it did not sign.
                throw Invalid($"messages.{messageIndex}.content.{j}: Invalid `signature` in `thinking` block");
            }
        }
    }

    private static void ReadSystemMessage(JsonElement message, int index, List<ChatMessage> conversation)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            throw Invalid($"messages[{index}].content is required.");
        }

        var extras = ReadExtras(message, s_messageFields);
        if (content.ValueKind == JsonValueKind.String)
        {
            conversation.Add(new ChatMessage(ChatRole.System, content.GetString()) { AdditionalProperties = extras });
            return;
        }

        if (content.ValueKind != JsonValueKind.Array)
        {
            throw Invalid($"messages[{index}].content must be a string or an array of text blocks.");
        }

        var contents = new List<AIContent>(content.GetArrayLength());
        int j = 0;
        foreach (var block in content.EnumerateArray())
        {
            var path = new BlockPath("messages", index, j++);
            if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("type", out var type) || !type.ValueEquals("text"))
            {
                throw Invalid($"{path} must be a text block in a system message.");
            }

            contents.Add(ReadBlock(block, path));
        }

        conversation.Add(new ChatMessage(ChatRole.System, contents) { AdditionalProperties = extras });
    }

    private static List<AIContent> ReadBlocks(JsonElement content, int messageIndex)
    {
        var contents = new List<AIContent>(content.GetArrayLength());
        int j = 0;
        foreach (var block in content.EnumerateArray())
        {
            contents.Add(ReadBlock(block, new BlockPath("messages", messageIndex, j++)));
        }

        return contents;
    }

    /// <summary>
    /// A user turn becomes a tool message for each run of <c>tool_result</c> blocks and a user message for each run of
    /// other blocks, in order (MEAI and OpenAI keep tool results in tool-role messages).
    /// </summary>
    private static void ReadUserTurn(JsonElement content, int messageIndex, AdditionalPropertiesDictionary? extras, List<ChatMessage> conversation)
    {
        ChatMessage? current = null;
        int j = 0;
        foreach (var block in content.EnumerateArray())
        {
            var item = ReadBlock(block, new BlockPath("messages", messageIndex, j++));
            var role = item is FunctionResultContent ? ChatRole.Tool : ChatRole.User;
            if (current is null || current.Role != role)
            {
                current = new ChatMessage(role, []) { AdditionalProperties = extras };
                extras = null;
                conversation.Add(current);
            }

            current.Contents.Add(item);
        }

        if (current is null)
        {
            conversation.Add(new ChatMessage(ChatRole.User, []) { AdditionalProperties = extras });
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Translation rules: system messages (and <see cref="ChatOptions.Instructions"/>) go to the top-level <c>system</c>;
    /// consecutive tool and user messages become one user turn with the <c>tool_result</c> blocks first, consecutive
    /// assistant messages one assistant turn; signed
    /// thinking and redacted thinking stay in place in assistant turns (Anthropic requires them before the turn's
    /// <c>tool_use</c> blocks, as they were received), while reasoning without a signature (from another provider) is
    /// dropped because Anthropic rejects unsigned thinking blocks; empty text blocks and turns left empty are dropped;
    /// <c>max_tokens</c> falls back to the dialect's default; <c>tool_choice</c> is only written with <c>tools</c>;
    /// <c>anthropic:*</c> options are written back verbatim and other dialects' keys are not written.
    /// </remarks>
    public void WriteRequest(Utf8JsonWriter writer, CanonicalChatRequest request, string upstreamModel)
        => WriteRequest(writer, request, upstreamModel, cacheBreakpoints: false);

    /// <summary>
    /// Encodes a request for an Anthropic upstream; with <paramref name="cacheBreakpoints"/>, prompt-cache breakpoints
    /// (<c>cache_control: {"type":"ephemeral"}</c>) go on the last tool, the last system block and the last block of the
    /// turn before the final one (three at most, within Anthropic's four), for a client that cannot place them itself.
    /// </summary>
    /// <remarks>See <see cref="AnthropicPromptCache"/> for when the caller asks for them.</remarks>
    internal void WriteRequest(Utf8JsonWriter writer, CanonicalChatRequest request, string upstreamModel, bool cacheBreakpoints)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(upstreamModel);

        var options = request.Options;
        var extras = options.AdditionalProperties;
        int maxTokens = options.MaxOutputTokens ?? _defaultMaxTokens;

        writer.WriteStartObject();
        writer.WriteString("model", upstreamModel);
        writer.WriteNumber("max_tokens", maxTokens);
        WriteSystem(writer, request.Messages, options.Instructions, cacheBreakpoints);
        WriteMessages(writer, request.Messages, cacheBreakpoints);

        if (options.StopSequences is { Count: > 0 } stops)
        {
            writer.WritePropertyName("stop_sequences");
            writer.WriteStartArray();
            for (int i = 0; i < stops.Count; i++)
            {
                writer.WriteStringValue(stops[i]);
            }

            writer.WriteEndArray();
        }

        if (options.Temperature is { } temperature)
        {
            writer.WriteNumber("temperature", temperature);
        }

        if (options.TopP is { } topP)
        {
            writer.WriteNumber("top_p", topP);
        }

        if (options.TopK is { } topK)
        {
            writer.WriteNumber("top_k", topK);
        }

        if (WriteTools(writer, options.Tools, cacheBreakpoints))
        {
            WriteToolChoice(writer, options);
        }

        if (!HasKey(extras, "metadata") && extras is not null && extras.TryGetValue(CanonicalKeys.EndUser, out var endUser) && endUser is string user)
        {
            writer.WritePropertyName("metadata");
            writer.WriteStartObject();
            writer.WriteString("user_id", user);
            writer.WriteEndObject();
        }

        if (!HasKey(extras, "thinking"))
        {
            WriteThinkingFromReasoning(writer, options, maxTokens);
        }

        if (request.Stream)
        {
            writer.WriteBoolean("stream", true);
        }

        WriteExtras(writer, extras, s_requestFields);
        writer.WriteEndObject();
    }

    private static bool HasKey(AdditionalPropertiesDictionary? extras, string wireName) =>
        extras is not null && extras.ContainsKey(Key(wireName));

    private static void WriteSystem(Utf8JsonWriter writer, IList<ChatMessage> messages, string? instructions, bool cacheBreakpoint)
    {
        int blocks = 0;
        TextContent? only = null;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != ChatRole.System)
            {
                continue;
            }

            var contents = messages[i].Contents;
            for (int j = 0; j < contents.Count; j++)
            {
                if (contents[j] is TextContent { Text.Length: > 0 } text)
                {
                    blocks++;
                    only = text;
                }
            }
        }

        bool hasInstructions = !string.IsNullOrEmpty(instructions);
        if (blocks == 0 && !hasInstructions)
        {
            return;
        }

        if (blocks == 1 && !hasInstructions && !cacheBreakpoint && !HasAnthropicExtras(only!.AdditionalProperties))
        {
            writer.WriteString("system", only.Text);
            return;
        }

        // The breakpoint goes on the last block: the instructions when there are any, else the last system text.
        var marked = cacheBreakpoint && !hasInstructions ? only : null;
        var saved = marked is null ? null : MarkBreakpoint(marked);
        writer.WritePropertyName("system");
        writer.WriteStartArray();
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != ChatRole.System)
            {
                continue;
            }

            var contents = messages[i].Contents;
            for (int j = 0; j < contents.Count; j++)
            {
                if (contents[j] is TextContent text)
                {
                    WriteBlock(writer, text, BlockTarget.Request);
                }
            }
        }

        if (hasInstructions)
        {
            writer.WriteStartObject();
            writer.WriteString("type", "text");
            writer.WriteString("text", instructions);
            if (cacheBreakpoint)
            {
                WriteEphemeral(writer);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        if (marked is not null)
        {
            marked.AdditionalProperties = saved;
        }
    }

    private static readonly JsonElement s_ephemeral = JsonDocument.Parse("""{"type":"ephemeral"}""").RootElement.Clone();

    private static void WriteEphemeral(Utf8JsonWriter writer)
    {
        writer.WritePropertyName("cache_control");
        s_ephemeral.WriteTo(writer);
    }

    /// <summary>Gives <paramref name="content"/> a breakpoint for one write; returns its own properties, to put back after.</summary>
    private static AdditionalPropertiesDictionary? MarkBreakpoint(AIContent content)
    {
        var saved = content.AdditionalProperties;
        var marked = saved is null ? new AdditionalPropertiesDictionary() : new AdditionalPropertiesDictionary(saved);
        marked[CanonicalKeys.CacheControl] = s_ephemeral;
        content.AdditionalProperties = marked;
        return saved;
    }

    private static bool HasAnthropicExtras(AdditionalPropertiesDictionary? properties)
    {
        if (properties is null)
        {
            return false;
        }

        foreach (var key in properties.Keys)
        {
            if (key == CanonicalKeys.CacheControl || key.StartsWith(KeyPrefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Writes the conversation as alternating turns: consecutive user and tool messages form one user turn (tool results
    /// first, as Anthropic requires), consecutive assistant messages one assistant turn. System messages (hoisted to
    /// <c>system</c>) and messages with nothing Anthropic can carry are skipped without splitting a turn.
    /// </summary>
    private static void WriteMessages(Utf8JsonWriter writer, IList<ChatMessage> messages, bool cacheBreakpoint)
    {
        // The breakpoint goes on the turn before the final one (the last earlier turn).
        int breakpointTurn = cacheBreakpoint ? CountTurns(messages) - 2 : -1;
        writer.WritePropertyName("messages");
        writer.WriteStartArray();
        int i = 0;
        int turn = 0;
        while (i < messages.Count)
        {
            int end = NextTurn(messages, i, out bool user);
            if (end < 0)
            {
                break;
            }

            WriteTurn(writer, user, messages, NextVisible(messages, i), end, turn++ == breakpointTurn);
            i = end;
        }

        writer.WriteEndArray();
    }

    private static int NextVisible(IList<ChatMessage> messages, int i)
    {
        while (i < messages.Count && !IsVisible(messages[i]))
        {
            i++;
        }

        return i;
    }

    /// <summary>The end of the turn that starts at the first visible message from <paramref name="i"/>, or -1 when there is none.</summary>
    private static int NextTurn(IList<ChatMessage> messages, int i, out bool user)
    {
        i = NextVisible(messages, i);
        user = false;
        if (i >= messages.Count)
        {
            return -1;
        }

        user = messages[i].Role != ChatRole.Assistant;
        int end = i + 1;
        while (end < messages.Count && !(IsVisible(messages[end]) && (messages[end].Role != ChatRole.Assistant) != user))
        {
            end++;
        }

        return end;
    }

    private static int CountTurns(IList<ChatMessage> messages)
    {
        int turns = 0;
        int i = 0;
        while ((i = NextTurn(messages, i, out _)) > 0)
        {
            turns++;
        }

        return turns;
    }

    private static bool IsVisible(ChatMessage message)
    {
        if (message.Role == ChatRole.System)
        {
            return false;
        }

        var contents = message.Contents;
        for (int j = 0; j < contents.Count; j++)
        {
            if (CanWriteBlock(contents[j], BlockTarget.Request))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Writes the messages in [<paramref name="start"/>, <paramref name="end"/>) as one turn.</summary>
    private static void WriteTurn(Utf8JsonWriter writer, bool user, IList<ChatMessage> messages, int start, int end, bool cacheBreakpoint)
    {
        var marked = cacheBreakpoint ? LastBlock(user, messages, start, end) : null;
        var saved = marked is null ? null : MarkBreakpoint(marked);
        int blocks = 0;
        AIContent? first = null;
        for (int m = start; m < end; m++)
        {
            if (messages[m].Role == ChatRole.System)
            {
                continue;
            }

            var contents = messages[m].Contents;
            for (int j = 0; j < contents.Count; j++)
            {
                if (CanWriteBlock(contents[j], BlockTarget.Request))
                {
                    blocks++;
                    first ??= contents[j];
                }
            }
        }

        writer.WriteStartObject();
        writer.WriteString("role", user ? "user" : "assistant");
        if (blocks == 1 && first is TextContent text && !HasAnthropicExtras(text.AdditionalProperties))
        {
            writer.WriteString("content", text.Text);
        }
        else
        {
            writer.WritePropertyName("content");
            writer.WriteStartArray();
            if (user)
            {
                WriteTurnBlocks(writer, messages, start, end, toolResults: true);
                WriteTurnBlocks(writer, messages, start, end, toolResults: false);
            }
            else
            {
                WriteTurnBlocks(writer, messages, start, end, toolResults: null);
            }

            writer.WriteEndArray();
        }

        WriteExtras(writer, messages[start].AdditionalProperties, s_messageFields);
        writer.WriteEndObject();
        if (marked is not null)
        {
            marked.AdditionalProperties = saved;
        }
    }

    /// <summary>The block a turn is written with last (a user turn writes its tool results first), when it can take a
    /// <c>cache_control</c>; null otherwise (thinking and raw blocks).</summary>
    private static AIContent? LastBlock(bool user, IList<ChatMessage> messages, int start, int end)
    {
        AIContent? last = null, lastResult = null;
        for (int m = start; m < end; m++)
        {
            if (messages[m].Role == ChatRole.System)
            {
                continue;
            }

            var contents = messages[m].Contents;
            for (int j = 0; j < contents.Count; j++)
            {
                if (!CanWriteBlock(contents[j], BlockTarget.Request))
                {
                    continue;
                }

                if (user && contents[j] is FunctionResultContent)
                {
                    lastResult = contents[j];
                }
                else
                {
                    last = contents[j];
                }
            }
        }

        last ??= lastResult;
        return last is TextReasoningContent or AnthropicRawContent ? null : last;
    }

    /// <summary>Writes the turn's blocks: only tool results, only the others, or all (<paramref name="toolResults"/> null).</summary>
    private static void WriteTurnBlocks(Utf8JsonWriter writer, IList<ChatMessage> messages, int start, int end, bool? toolResults)
    {
        for (int m = start; m < end; m++)
        {
            if (messages[m].Role == ChatRole.System)
            {
                continue;
            }

            var contents = messages[m].Contents;
            for (int j = 0; j < contents.Count; j++)
            {
                if (toolResults is null || (contents[j] is FunctionResultContent) == toolResults)
                {
                    WriteBlock(writer, contents[j], BlockTarget.Request);
                }
            }
        }
    }

    /// <summary>Writes <c>tools</c>; returns false when there is no tool Anthropic can take.</summary>
    private static bool WriteTools(Utf8JsonWriter writer, IList<AITool>? tools, bool cacheBreakpoint)
    {
        if (tools is null)
        {
            return false;
        }

        int last = -1;
        if (cacheBreakpoint)
        {
            for (int i = 0; i < tools.Count; i++)
            {
                if (tools[i] is AIFunctionDeclaration or AnthropicServerTool or HostedWebSearchTool)
                {
                    last = i;
                }
            }
        }

        bool any = false;
        for (int i = 0; i < tools.Count; i++)
        {
            var tool = tools[i];
            if (tool is not (AIFunctionDeclaration or AnthropicServerTool or HostedWebSearchTool))
            {
                continue;
            }

            if (!any)
            {
                writer.WritePropertyName("tools");
                writer.WriteStartArray();
                any = true;
            }

            switch (tool)
            {
                case AnthropicServerTool server:
                    server.Definition.WriteTo(writer);
                    break;
                case AIFunctionDeclaration function:
                    writer.WriteStartObject();
                    writer.WriteString("name", function.Name);
                    if (!string.IsNullOrEmpty(function.Description))
                    {
                        writer.WriteString("description", function.Description);
                    }

                    writer.WritePropertyName("input_schema");
                    if (function.JsonSchema.ValueKind == JsonValueKind.Object)
                    {
                        function.JsonSchema.WriteTo(writer);
                    }
                    else
                    {
                        writer.WriteStartObject();
                        writer.WriteString("type", "object");
                        writer.WritePropertyName("properties");
                        writer.WriteStartObject();
                        writer.WriteEndObject();
                        writer.WriteEndObject();
                    }

                    WriteExtras(writer, function.AdditionalProperties, s_toolFields);
                    if (i == last && function.AdditionalProperties?.ContainsKey(CanonicalKeys.CacheControl) is not true)
                    {
                        WriteEphemeral(writer);
                    }

                    writer.WriteEndObject();
                    break;
                case HostedWebSearchTool web:
                    writer.WriteStartObject();
                    writer.WriteString("type", "web_search_20250305");
                    writer.WriteString("name", "web_search");
                    WriteExtras(writer, web.AdditionalProperties, s_toolFields);
                    if (i == last && web.AdditionalProperties?.ContainsKey(CanonicalKeys.CacheControl) is not true)
                    {
                        WriteEphemeral(writer);
                    }

                    writer.WriteEndObject();
                    break;
            }
        }

        if (any)
        {
            writer.WriteEndArray();
        }

        return any;
    }

    private static void WriteToolChoice(Utf8JsonWriter writer, ChatOptions options)
    {
        var mode = options.ToolMode;
        bool? parallel = options.AllowMultipleToolCalls;
        if (mode is null && parallel is null)
        {
            return;
        }

        writer.WritePropertyName("tool_choice");
        writer.WriteStartObject();
        switch (mode)
        {
            case NoneChatToolMode:
                writer.WriteString("type", "none");
                writer.WriteEndObject();
                return;
            case RequiredChatToolMode { RequiredFunctionName: { } name }:
                writer.WriteString("type", "tool");
                writer.WriteString("name", name);
                break;
            case RequiredChatToolMode:
                writer.WriteString("type", "any");
                break;
            default:
                writer.WriteString("type", "auto");
                break;
        }

        if (parallel is { } allow)
        {
            writer.WriteBoolean("disable_parallel_tool_use", !allow);
        }

        writer.WriteEndObject();
    }

    /// <summary>
    /// Turns a canonical reasoning effort (an OpenAI client's <c>reasoning_effort</c>) into a thinking budget
    /// (low 2048, medium 8192, high 16384, extra high 32768 tokens, below <c>max_tokens</c>).
    /// </summary>
    /// <remarks>The effort is a hint: thinking is only requested when Anthropic accepts it together with the other options
    /// (a budget of at least 1024 below <c>max_tokens</c>, no <c>temperature</c> or <c>top_k</c>, <c>top_p</c> of at least
    /// 0.95, no forced tool choice), so that a hint never makes a request fail.</remarks>
    private static void WriteThinkingFromReasoning(Utf8JsonWriter writer, ChatOptions options, int maxTokens)
    {
        if (options.Reasoning?.Effort is not { } effort || effort == ReasoningEffort.None)
        {
            return;
        }

        int budget = effort switch
        {
            ReasoningEffort.Low => 2048,
            ReasoningEffort.Medium => 8192,
            ReasoningEffort.High => 16384,
            _ => 32768,
        };
        budget = Math.Min(budget, maxTokens - 1);
        bool compatible = budget >= 1024 && options.Temperature is null && options.TopK is null
            && (options.TopP is null || options.TopP >= 0.95f)
            && options.ToolMode is null or AutoChatToolMode or NoneChatToolMode;
        if (!compatible)
        {
            return;
        }

        writer.WritePropertyName("thinking");
        writer.WriteStartObject();
        writer.WriteString("type", "enabled");
        writer.WriteNumber("budget_tokens", budget);
        writer.WriteEndObject();
    }
}
