using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Catalog;

namespace Qlaud.Dialects.Anthropic;

/// <summary>
/// Carries a canonical <see cref="ChatOptions.ResponseFormat"/> (an OpenAI client's <c>response_format</c> <c>json_object</c> or
/// <c>json_schema</c>) to an Anthropic-dialect route, which has no <c>response_format</c>.
/// </summary>
/// <remarks>
/// <para>Two techniques, chosen per route:</para>
/// <list type="bullet">
/// <item><b>Native</b>: a strict <c>json_schema</c> (<c>strict: true</c>) on a route with
/// <see cref="ModelCapabilities.StructuredOutputs"/> is sent as Anthropic's structured outputs, <c>output_config.format</c>
/// <c>{"type":"json_schema","schema":…}</c> (generally available, no beta header). Anthropic requires
/// <c>additionalProperties: false</c> on every object, which OpenAI's strict mode requires too, so only strict schemas take
/// this path. The answer is a text block holding the JSON, passed on as is.</item>
/// <item><b>Forced tool</b>: everything else. One tool whose <c>input_schema</c> is the requested schema (an open object schema for
/// <c>json_object</c>) is added and forced with <c>tool_choice</c> <c>{"type":"tool"}</c> (<c>{"type":"any"}</c> when the client
/// declared tools of its own, so it may still call them). The forced tool's input comes back as the message text, whole or as
/// text deltas (its <c>input_json_delta</c> fragments), and its <c>tool_use</c> stop becomes <c>finish_reason</c> <c>stop</c>.
/// Tool inputs are JSON objects, so a schema whose root is not an object is refused by the upstream.</item>
/// </list>
/// </remarks>
internal sealed class AnthropicStructuredOutput
{
    /// <summary>The forced tool's name when the schema has no usable name (or its name is taken by a client tool).</summary>
    public const string DefaultToolName = "json_response";

    private static readonly JsonElement s_openObjectSchema = JsonElement.Parse("""{"type":"object"}""");

    private AnthropicStructuredOutput(CanonicalChatRequest request, string? toolName)
    {
        Request = request;
        ToolName = toolName;
    }

    /// <summary>The request to encode for the Anthropic upstream.</summary>
    public CanonicalChatRequest Request { get; }

    /// <summary>The forced tool's name; null when the route's native structured outputs are used.</summary>
    public string? ToolName { get; }

    /// <summary>The plan for <paramref name="request"/> on <paramref name="route"/>, or null when there is nothing to carry.</summary>
    public static AnthropicStructuredOutput? For(CanonicalChatRequest request, CatalogRoute route)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(route);
        if (route.Provider.Dialect != "anthropic" || request.Options.ResponseFormat is not ChatResponseFormatJson json)
        {
            return null;
        }

        var extras = request.Options.AdditionalProperties;
        if (HasNativeFormat(extras))
        {
            return null;
        }

        var options = request.Options.Clone();
        options.ResponseFormat = null;
        bool strict = extras?.TryGetValue(OpenAI.OpenAIDialect.JsonSchemaStrictKey, out var s) is true && s is true;
        if (json.Schema is { } schema && strict && (route.Capabilities & ModelCapabilities.StructuredOutputs) != 0)
        {
            var merged = new AdditionalPropertiesDictionary(extras ?? []);
            merged[AnthropicDialect.Key("output_config")] = OutputConfig(extras, schema);
            options.AdditionalProperties = merged;
            return new AnthropicStructuredOutput(request with { Options = options }, null);
        }

        var tools = options.Tools ?? [];
        bool clientTools = false;
        for (int i = 0; i < tools.Count; i++)
        {
            clientTools |= tools[i] is AIFunctionDeclaration or AnthropicServerTool or HostedWebSearchTool;
        }

        string name = ToolNameFor(json.SchemaName, tools);
        string description = json.SchemaDescription is { Length: > 0 } d
            ? d
            : json.Schema is null
                ? "Give your answer by calling this tool: its input is the answer, a JSON object."
                : "Give your answer by calling this tool: its input is the answer, a JSON value that matches the schema.";
        options.Tools = [.. tools, new AnthropicToolDeclaration(name, description, json.Schema ?? s_openObjectSchema)];
        options.ToolMode = clientTools ? ChatToolMode.RequireAny : ChatToolMode.RequireSpecific(name);
        return new AnthropicStructuredOutput(request with { Options = options }, name);
    }

    /// <summary>Turns the forced tool's call in a whole answer into the message text, with <c>finish_reason</c> stop.</summary>
    public void Apply(ChatResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (ToolName is null)
        {
            return;
        }

        bool answered = false, otherCalls = false;
        foreach (var message in response.Messages)
        {
            var contents = message.Contents;
            int found = -1;
            for (int i = 0; i < contents.Count; i++)
            {
                if (contents[i] is FunctionCallContent call)
                {
                    if (found < 0 && call.Name == ToolName)
                    {
                        found = i;
                    }
                    else
                    {
                        otherCalls = true;
                    }
                }
            }

            if (found < 0)
            {
                continue;
            }

            answered = true;
            var json = new TextContent(ArgumentsJson((FunctionCallContent)contents[found]));
            var kept = new List<AIContent>(contents.Count);
            for (int i = 0; i < contents.Count; i++)
            {
                // Text around the answer would make the content invalid JSON; reasoning and other calls stay.
                if (i == found)
                {
                    kept.Add(json);
                }
                else if (contents[i] is not TextContent)
                {
                    kept.Add(contents[i]);
                }
            }

            message.Contents = kept;
        }

        if (answered && !otherCalls)
        {
            response.FinishReason = ChatFinishReason.Stop;
            response.AdditionalProperties?.Remove(CanonicalKeys.RawFinishReason);
        }
    }

    /// <summary>Wraps an Anthropic stream decoder so the forced tool's input arrives as text deltas.</summary>
    public IStreamDecoder Wrap(IStreamDecoder decoder)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        return ToolName is null ? decoder : new ForcedToolDecoder(decoder, ToolName);
    }

    private static bool HasNativeFormat(AdditionalPropertiesDictionary? extras)
    {
        if (extras is null)
        {
            return false;
        }

        if (extras.ContainsKey(AnthropicDialect.Key("output_format")))
        {
            return true;
        }

        return extras.TryGetValue(AnthropicDialect.Key("output_config"), out var config) && config is JsonElement { ValueKind: JsonValueKind.Object } element
            && element.TryGetProperty("format", out _);
    }

    /// <summary><c>output_config</c> with <c>format</c> set, keeping the other members (<c>effort</c>) the request already had.</summary>
    private static JsonElement OutputConfig(AdditionalPropertiesDictionary? extras, JsonElement schema)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (extras?.TryGetValue(AnthropicDialect.Key("output_config"), out var existing) is true && existing is JsonElement { ValueKind: JsonValueKind.Object } config)
            {
                foreach (var property in config.EnumerateObject())
                {
                    property.WriteTo(writer);
                }
            }

            writer.WriteStartObject("format");
            writer.WriteString("type", "json_schema");
            writer.WritePropertyName("schema");
            schema.WriteTo(writer);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return JsonElement.Parse(buffer.WrittenSpan);
    }

    private static string ToolNameFor(string? schemaName, IList<AITool> tools)
    {
        string name = schemaName is { Length: > 0 and <= 64 } && IsToolName(schemaName) ? schemaName : DefaultToolName;
        for (int i = 0; i < tools.Count; i++)
        {
            if (tools[i].Name == name)
            {
                return name == DefaultToolName ? "qlaud_" + DefaultToolName : DefaultToolName;
            }
        }

        return name;
    }

    private static bool IsToolName(string name)
    {
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    private static string ArgumentsJson(FunctionCallContent call)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (call.Arguments is { } arguments)
            {
                foreach (var (name, value) in arguments)
                {
                    writer.WritePropertyName(name);
                    CanonicalJson.WriteValue(writer, value);
                }
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Rewrites decoded updates: the forced tool's argument fragments become text, later calls move down one index.</summary>
    private sealed class ForcedToolDecoder(IStreamDecoder inner, string toolName) : IStreamDecoder
    {
        private int _toolIndex = -1;
        private bool _sentText;
        private bool _otherCalls;

        public bool Completed => inner.Completed;

        public void Decode(ReadOnlySpan<byte> eventType, ReadOnlySpan<byte> data, List<ChatResponseUpdate> updates)
        {
            int first = updates.Count;
            inner.Decode(eventType, data, updates);
            for (int u = first; u < updates.Count; u++)
            {
                var update = updates[u];
                var contents = update.Contents;
                for (int i = contents.Count - 1; i >= 0; i--)
                {
                    if (contents[i] is not ToolCallDeltaContent delta)
                    {
                        continue;
                    }

                    if (_toolIndex < 0 && delta.Name == toolName)
                    {
                        _toolIndex = delta.Index;
                    }

                    if (delta.Index == _toolIndex)
                    {
                        if (delta.ArgumentsDelta.Length > 0)
                        {
                            contents[i] = new TextContent(delta.ArgumentsDelta);
                            _sentText = true;
                        }
                        else
                        {
                            contents.RemoveAt(i);
                        }
                    }
                    else
                    {
                        _otherCalls = true;
                        if (_toolIndex >= 0 && delta.Index > _toolIndex)
                        {
                            contents[i] = new ToolCallDeltaContent { Index = delta.Index - 1, CallId = delta.CallId, Name = delta.Name, ArgumentsDelta = delta.ArgumentsDelta };
                        }
                    }
                }

                if (update.FinishReason is not null && _toolIndex >= 0)
                {
                    if (!_sentText)
                    {
                        // The tool was called without input fragments: its input was the empty object.
                        contents.Insert(0, new TextContent("{}"));
                        _sentText = true;
                    }

                    if (!_otherCalls)
                    {
                        update.FinishReason = ChatFinishReason.Stop;
                        update.AdditionalProperties?.Remove(CanonicalKeys.RawFinishReason);
                    }
                }
            }
        }
    }
}
