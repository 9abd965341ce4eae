using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.Anthropic;

// Content blocks, shared by requests and responses.
internal sealed partial class AnthropicDialect
{
    private static readonly string[] s_textFields = ["text"];
    private static readonly string[] s_sourceFields = ["source"];
    private static readonly string[] s_documentFields = ["source", "title"];
    private static readonly string[] s_toolUseFields = ["id", "name", "input"];
    private static readonly string[] s_toolResultFields = ["tool_use_id", "content", "is_error"];
    private static readonly string[] s_thinkingFields = ["thinking", "signature"];
    private static readonly string[] s_redactedFields = ["data"];

    /// <summary>Whether a block is written for a request to Anthropic or for a response to an Anthropic client.</summary>
    private enum BlockTarget
    {
        /// <summary>To an Anthropic upstream: unsigned reasoning is dropped (Anthropic rejects unsigned thinking blocks)
        /// and tool call ids are made to match Anthropic's id pattern.</summary>
        Request,

        /// <summary>To an Anthropic client: reasoning without a signature is still shown as a thinking block.</summary>
        Response,
    }

    /// <summary>Where a block sits in the wire JSON, formatted only when an error message needs it.</summary>
    private readonly struct BlockPath(string root, int first, int second = -1, int third = -1)
    {
        public BlockPath Nested(int index) => second < 0 ? new(root, first, index) : new(root, first, second, index);

        public override string ToString()
        {
            var text = $"{root}[{first}]";
            if (second >= 0)
            {
                text += $".content[{second}]";
            }

            if (third >= 0)
            {
                text += $".content[{third}]";
            }

            return text;
        }
    }

    private static DialectException Invalid(string message) => new(QlaudErrorKind.InvalidRequest, message);

    private static string RequireString(JsonElement obj, string name, BlockPath path)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
        {
            throw Invalid($"{path}.{name} is required and must be a string.");
        }

        return value.GetString()!;
    }

    /// <summary>The block's fields other than <c>type</c> and <paramref name="known"/>: <c>cache_control</c> under
    /// <see cref="CanonicalKeys.CacheControl"/>, the rest under <c>anthropic:&lt;name&gt;</c>.</summary>
    private static AdditionalPropertiesDictionary? ReadExtras(JsonElement block, ReadOnlySpan<string> known)
    {
        AdditionalPropertiesDictionary? extras = null;
        foreach (var property in block.EnumerateObject())
        {
            string name = property.Name;
            if (name == "type" || Contains(known, name))
            {
                continue;
            }

            extras ??= [];
            extras[name == "cache_control" ? CanonicalKeys.CacheControl : Key(name)] = property.Value;
        }

        return extras;
    }

    /// <summary>Reads one content block into canonical content.</summary>
    private static AIContent ReadBlock(JsonElement block, BlockPath path)
    {
        if (block.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{path} must be a content block object.");
        }

        if (!block.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
        {
            throw Invalid($"{path}.type is required and must be a string.");
        }

        switch (typeElement.GetString())
        {
            case "text":
                return new TextContent(RequireString(block, "text", path)) { AdditionalProperties = ReadExtras(block, s_textFields) };

            case "image":
                return ReadImage(block, path);

            case "document":
                return ReadDocument(block, path);

            case "tool_use":
            {
                string id = RequireString(block, "id", path);
                string name = RequireString(block, "name", path);
                if (!block.TryGetProperty("input", out var input) || input.ValueKind != JsonValueKind.Object)
                {
                    throw Invalid($"{path}.input is required and must be an object.");
                }

                return new FunctionCallContent(id, name, ReadArguments(input)) { AdditionalProperties = ReadExtras(block, s_toolUseFields) };
            }

            case "tool_result":
                return ReadToolResult(block, path);

            case "thinking":
            {
                string thinking = RequireString(block, "thinking", path);
                string? signature = block.TryGetProperty("signature", out var sig) && sig.ValueKind == JsonValueKind.String ? sig.GetString() : null;
                return new TextReasoningContent(thinking)
                {
                    ProtectedData = string.IsNullOrEmpty(signature) ? null : signature,
                    AdditionalProperties = ReadExtras(block, s_thinkingFields),
                };
            }

            case "redacted_thinking":
            {
                var extras = ReadExtras(block, s_redactedFields) ?? [];
                extras[CanonicalKeys.Redacted] = true;
                return new TextReasoningContent("") { ProtectedData = RequireString(block, "data", path), AdditionalProperties = extras };
            }

            default:
                return new AnthropicRawContent(block);
        }
    }

    private static Dictionary<string, object?> ReadArguments(JsonElement input)
    {
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in input.EnumerateObject())
        {
            arguments[property.Name] = property.Value;
        }

        return arguments;
    }

    private static AIContent ReadImage(JsonElement block, BlockPath path)
    {
        if (!block.TryGetProperty("source", out var source) || source.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{path}.source is required and must be an object.");
        }

        var extras = ReadExtras(block, s_sourceFields);
        switch (source.TryGetProperty("type", out var type) ? type.GetString() : null)
        {
            case "base64":
                return new DataContentOrThrow(source, path).Create(extras);

            case "url":
            {
                string url = RequireString(source, "url", path);
                try
                {
                    var inferred = new UriContent(url, null!);
                    if (!inferred.HasTopLevelMediaType("image"))
                    {
                        inferred.MediaType = "image/*";
                    }

                    inferred.AdditionalProperties = extras;
                    return inferred;
                }
                catch (Exception ex) when (ex is ArgumentException or UriFormatException)
                {
                    throw new DialectException(QlaudErrorKind.InvalidRequest, $"{path}.source.url is not a valid absolute URL.", ex);
                }
            }

            case "file":
                return new HostedFileContent(RequireString(source, "file_id", path)) { MediaType = "image/*", AdditionalProperties = extras };

            default:
                return new AnthropicRawContent(block);
        }
    }

    private static AIContent ReadDocument(JsonElement block, BlockPath path)
    {
        if (!block.TryGetProperty("source", out var source) || source.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{path}.source is required and must be an object.");
        }

        string? title = block.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var extras = ReadExtras(block, s_documentFields);
        switch (source.TryGetProperty("type", out var type) ? type.GetString() : null)
        {
            case "base64":
            {
                var content = new DataContentOrThrow(source, path).Create(extras);
                content.Name = title;
                return content;
            }

            case "text":
            {
                string data = RequireString(source, "data", path);
                string mediaType = source.TryGetProperty("media_type", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString()! : "text/plain";
                try
                {
                    return new DataContent(Encoding.UTF8.GetBytes(data), mediaType) { Name = title, AdditionalProperties = extras };
                }
                catch (ArgumentException ex)
                {
                    throw new DialectException(QlaudErrorKind.InvalidRequest, $"{path}.source.media_type is not a valid media type.", ex);
                }
            }

            case "url":
            {
                string url = RequireString(source, "url", path);
                if (title is not null)
                {
                    (extras ??= [])[Key("title")] = t;
                }

                try
                {
                    return new UriContent(url, "application/pdf") { AdditionalProperties = extras };
                }
                catch (Exception ex) when (ex is ArgumentException or UriFormatException)
                {
                    throw new DialectException(QlaudErrorKind.InvalidRequest, $"{path}.source.url is not a valid absolute URL.", ex);
                }
            }

            case "file":
                return new HostedFileContent(RequireString(source, "file_id", path)) { Name = title, AdditionalProperties = extras };

            default:
                // Custom content documents ("content" sources) and future source types stay as the wire block.
                return new AnthropicRawContent(block);
        }
    }

    /// <summary>Builds a <see cref="DataContent"/> from a base64 source, reporting bad data as an invalid request.</summary>
    private readonly ref struct DataContentOrThrow(JsonElement source, BlockPath path)
    {
        public DataContent Create(AdditionalPropertiesDictionary? extras)
        {
            string mediaType = RequireString(source, "media_type", path);
            string data = RequireString(source, "data", path);
            try
            {
                return new DataContent($"data:{mediaType};base64,{data}") { AdditionalProperties = extras };
            }
            catch (Exception ex) when (ex is ArgumentException or UriFormatException)
            {
                throw new DialectException(QlaudErrorKind.InvalidRequest, $"{path}.source must carry a valid media_type and base64 data.", ex);
            }
        }
    }

    private static FunctionResultContent ReadToolResult(JsonElement block, BlockPath path)
    {
        string id = RequireString(block, "tool_use_id", path);
        object? result = null;
        if (block.TryGetProperty("content", out var content))
        {
            switch (content.ValueKind)
            {
                case JsonValueKind.String:
                    result = content.GetString();
                    break;
                case JsonValueKind.Array:
                {
                    var items = new List<AIContent>(content.GetArrayLength());
                    int i = 0;
                    foreach (var item in content.EnumerateArray())
                    {
                        items.Add(ReadBlock(item, path.Nested(i++)));
                    }

                    result = items;
                    break;
                }

                case JsonValueKind.Null:
                    break;
                default:
                    throw Invalid($"{path}.content must be a string or an array of content blocks.");
            }
        }

        var extras = ReadExtras(block, s_toolResultFields);
        if (block.TryGetProperty("is_error", out var isError))
        {
            if (isError.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                throw Invalid($"{path}.is_error must be a boolean.");
            }

            if (isError.ValueKind == JsonValueKind.True)
            {
                (extras ??= [])[CanonicalKeys.IsError] = true;
            }
        }

        return new FunctionResultContent(id, result) { AdditionalProperties = extras };
    }

    /// <summary>True when <see cref="WriteBlock"/> writes something for <paramref name="content"/>.</summary>
    private static bool CanWriteBlock(AIContent content, BlockTarget target) => content switch
    {
        TextContent text => !string.IsNullOrEmpty(text.Text),
        TextReasoningContent reasoning => IsRedacted(reasoning) ? !string.IsNullOrEmpty(reasoning.ProtectedData)
            : !string.IsNullOrEmpty(reasoning.ProtectedData) || (target == BlockTarget.Response && !string.IsNullOrEmpty(reasoning.Text)),
        FunctionCallContent or FunctionResultContent or DataContent or UriContent or HostedFileContent or AnthropicRawContent => true,
        _ => false,
    };

    private static bool IsRedacted(TextReasoningContent reasoning) =>
        reasoning.AdditionalProperties is { } props && props.TryGetValue(CanonicalKeys.Redacted, out var value) && IsTrue(value);

    /// <summary>Writes <paramref name="content"/> as one content block, or nothing when Anthropic cannot carry it.</summary>
    private static void WriteBlock(Utf8JsonWriter writer, AIContent content, BlockTarget target)
    {
        if (!CanWriteBlock(content, target))
        {
            return;
        }

        switch (content)
        {
            case TextContent text:
                writer.WriteStartObject();
                writer.WriteString("type", "text");
                writer.WriteString("text", text.Text);
                WriteExtras(writer, text.AdditionalProperties, s_textFields);
                writer.WriteEndObject();
                break;

            case TextReasoningContent reasoning:
                writer.WriteStartObject();
                if (IsRedacted(reasoning))
                {
                    writer.WriteString("type", "redacted_thinking");
                    writer.WriteString("data", reasoning.ProtectedData);
                    WriteExtras(writer, reasoning.AdditionalProperties, s_redactedFields);
                }
                else
                {
                    writer.WriteString("type", "thinking");
                    writer.WriteString("thinking", reasoning.Text);
                    writer.WriteString("signature", reasoning.ProtectedData ?? "");
                    WriteExtras(writer, reasoning.AdditionalProperties, s_thinkingFields);
                }

                writer.WriteEndObject();
                break;

            case FunctionCallContent call:
                writer.WriteStartObject();
                writer.WriteString("type", "tool_use");
                writer.WriteString("id", target == BlockTarget.Request ? ToolUseId(call.CallId) : call.CallId);
                writer.WriteString("name", call.Name);
                writer.WritePropertyName("input");
                writer.WriteStartObject();
                if (call.Arguments is { } arguments)
                {
                    foreach (var (name, value) in arguments)
                    {
                        writer.WritePropertyName(name);
                        WriteValue(writer, value);
                    }
                }

                writer.WriteEndObject();
                if (target == BlockTarget.Response && call.AdditionalProperties?.ContainsKey(CallerKey) != true)
                {
                    WriteDirectCaller(writer);
                }

                WriteExtras(writer, call.AdditionalProperties, s_toolUseFields);
                writer.WriteEndObject();
                break;

            case FunctionResultContent result:
                WriteToolResult(writer, result, target);
                break;

            case DataContent data:
                WriteDataBlock(writer, data);
                break;

            case UriContent uri:
                writer.WriteStartObject();
                bool isDocument = uri.MediaType.StartsWith("application/pdf", StringComparison.OrdinalIgnoreCase);
                writer.WriteString("type", isDocument ? "document" : "image");
                writer.WritePropertyName("source");
                writer.WriteStartObject();
                writer.WriteString("type", "url");
                writer.WriteString("url", uri.Uri.OriginalString);
                writer.WriteEndObject();
                WriteExtras(writer, uri.AdditionalProperties, s_sourceFields);
                writer.WriteEndObject();
                break;

            case HostedFileContent file:
            {
                writer.WriteStartObject();
                bool isImage = file.HasTopLevelMediaType("image");
                writer.WriteString("type", isImage ? "image" : "document");
                writer.WritePropertyName("source");
                writer.WriteStartObject();
                writer.WriteString("type", "file");
                writer.WriteString("file_id", file.FileId);
                writer.WriteEndObject();
                if (!isImage && file.Name is not null)
                {
                    writer.WriteString("title", file.Name);
                }

                WriteExtras(writer, file.AdditionalProperties, isImage ? s_sourceFields : s_documentFields);
                writer.WriteEndObject();
                break;
            }

            case AnthropicRawContent raw:
                raw.Block.WriteTo(writer);
                break;
        }
    }

    private static void WriteDataBlock(Utf8JsonWriter writer, DataContent data)
    {
        writer.WriteStartObject();
        if (data.HasTopLevelMediaType("image"))
        {
            writer.WriteString("type", "image");
            writer.WritePropertyName("source");
            writer.WriteStartObject();
            writer.WriteString("type", "base64");
            writer.WriteString("media_type", data.MediaType);
            writer.WriteString("data", data.Base64Data.Span);
            writer.WriteEndObject();
            WriteExtras(writer, data.AdditionalProperties, s_sourceFields);
            writer.WriteEndObject();
            return;
        }

        bool isText = data.HasTopLevelMediaType("text");
        if (!isText && !data.MediaType.StartsWith("application/pdf", StringComparison.OrdinalIgnoreCase))
        {
            throw Invalid($"Content of media type '{data.MediaType}' cannot be sent to an Anthropic model (images, PDF and plain text only).");
        }

        writer.WriteString("type", "document");
        writer.WritePropertyName("source");
        writer.WriteStartObject();
        if (isText)
        {
            writer.WriteString("type", "text");
            writer.WriteString("media_type", "text/plain");
            writer.WriteString("data", Encoding.UTF8.GetString(data.Data.Span));
        }
        else
        {
            writer.WriteString("type", "base64");
            writer.WriteString("media_type", "application/pdf");
            writer.WriteString("data", data.Base64Data.Span);
        }

        writer.WriteEndObject();
        if (data.Name is not null)
        {
            writer.WriteString("title", data.Name);
        }

        WriteExtras(writer, data.AdditionalProperties, s_documentFields);
        writer.WriteEndObject();
    }

    private static void WriteToolResult(Utf8JsonWriter writer, FunctionResultContent result, BlockTarget target)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "tool_result");
        writer.WriteString("tool_use_id", target == BlockTarget.Request ? ToolUseId(result.CallId) : result.CallId);
        switch (result.Result)
        {
            case null:
                if (result.Exception is { } exception)
                {
                    writer.WriteString("content", "Error: " + exception.Message);
                }

                break;
            case string s:
                writer.WriteString("content", s);
                break;
            case JsonElement { ValueKind: JsonValueKind.String } element:
                writer.WriteString("content", element.GetString());
                break;
            case JsonElement { ValueKind: JsonValueKind.Undefined or JsonValueKind.Null }:
                break;
            case JsonElement element:
                writer.WriteString("content", element.GetRawText());
                break;
            case AIContent single:
                writer.WritePropertyName("content");
                writer.WriteStartArray();
                WriteBlock(writer, single, target);
                writer.WriteEndArray();
                break;
            case IEnumerable<AIContent> contents:
                writer.WritePropertyName("content");
                writer.WriteStartArray();
                foreach (var item in contents)
                {
                    WriteBlock(writer, item, target);
                }

                writer.WriteEndArray();
                break;
            default:
                writer.WriteString("content", JsonSerializer.Serialize(result.Result, CompactJson.GetTypeInfo(result.Result.GetType())));
                break;
        }

        bool isError = result.Exception is not null ||
            (result.AdditionalProperties is { } props && props.TryGetValue(CanonicalKeys.IsError, out var flag) && IsTrue(flag));
        if (isError)
        {
            writer.WriteBoolean("is_error", true);
        }

        WriteExtras(writer, result.AdditionalProperties, s_toolResultFields);
        writer.WriteEndObject();
    }

    /// <summary>
    /// A tool call id that matches Anthropic's pattern <c>^[a-zA-Z0-9_-]+$</c>. Ids from other providers may contain other
    /// characters; each is replaced by <c>_</c>, the same way for a call and its result so they still pair up.
    /// </summary>
    internal static string ToolUseId(string id)
    {
        int i = 0;
        for (; i < id.Length; i++)
        {
            if (!IsIdChar(id[i]))
            {
                break;
            }
        }

        if (i == id.Length)
        {
            return id.Length == 0 ? "toolu_" : id;
        }

        return string.Create(id.Length, id, static (span, source) =>
        {
            for (int j = 0; j < source.Length; j++)
            {
                span[j] = IsIdChar(source[j]) ? source[j] : '_';
            }
        });

        static bool IsIdChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-';
    }
}
