using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.OpenAI;

internal sealed partial class OpenAIDialect
{
    private static List<ChatMessage> ReadMessages(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Invalid("messages must be an array.");
        }

        var messages = new List<ChatMessage>(value.GetArrayLength());
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            messages.Add(ReadMessage(item, index++));
        }

        return messages.Count > 0 ? messages : throw Invalid("messages must contain at least one message.");
    }

    private static ChatMessage ReadMessage(JsonElement item, int index, string? defaultRole = null)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"messages[{index}] must be an object.");
        }

        string? role = null;
        string? name = null;
        string? toolCallId = null;
        string? reasoning = null;
        string? reasoningField = null;
        string? refusal = null;
        JsonElement content = default;
        JsonElement toolCalls = default;
        AdditionalPropertiesDictionary? extra = null;

        foreach (var property in item.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "role":
                    role = value.ValueKind == JsonValueKind.String ? value.GetString() : throw Invalid($"messages[{index}].role must be a string.");
                    break;
                case "content":
                    content = value;
                    break;
                case "name":
                    name = OptionalString(value, $"messages[{index}].name");
                    break;
                case "tool_call_id":
                    toolCallId = OptionalString(value, $"messages[{index}].tool_call_id");
                    break;
                case "tool_calls":
                    toolCalls = value;
                    break;
                case "refusal":
                    refusal = OptionalString(value, $"messages[{index}].refusal");
                    break;
                case ReasoningContentField or "reasoning" when value.ValueKind is JsonValueKind.String or JsonValueKind.Null:
                    if (value.ValueKind == JsonValueKind.String)
                    {
                        reasoning = value.GetString();
                        reasoningField = property.Name;
                    }

                    break;
                default:
                    (extra ??= [])[Prefix + property.Name] = value;
                    break;
            }
        }

        role ??= defaultRole ?? throw Invalid($"messages[{index}].role is required.");

        var chatRole = role switch
        {
            "system" => ChatRole.System,
            "developer" => ChatRole.System,
            "user" => ChatRole.User,
            "assistant" => ChatRole.Assistant,
            "tool" => ChatRole.Tool,
            _ => new ChatRole(role),
        };

        if (role == "developer")
        {
            (extra ??= [])[RoleKey] = role;
        }

        var contents = new List<AIContent>();
        if (reasoning is not null)
        {
            contents.Add(new TextReasoningContent(reasoning));
            (extra ??= [])[ReasoningFieldKey] = reasoningField;
        }

        if (chatRole == ChatRole.Tool)
        {
            if (toolCallId is null)
            {
                throw Invalid($"messages[{index}].tool_call_id is required.");
            }

            contents.Add(new FunctionResultContent(toolCallId, ReadToolResult(content, index)));
        }
        else
        {
            ReadContent(content, contents, index);
        }

        if (refusal is not null)
        {
            contents.Add(Refusal(refusal));
        }

        ReadToolCalls(toolCalls, contents, index);

        return new ChatMessage(chatRole, contents) { AuthorName = name, AdditionalProperties = extra };
    }

    private static void ReadContent(JsonElement content, List<AIContent> contents, int index)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.Undefined:
            case JsonValueKind.Null:
                break;
            case JsonValueKind.String:
                contents.Add(new TextContent(content.GetString()));
                break;
            case JsonValueKind.Array:
                var partIndex = 0;
                foreach (var part in content.EnumerateArray())
                {
                    contents.Add(ReadPart(part, index, partIndex++));
                }

                break;
            default:
                throw Invalid($"messages[{index}].content must be a string or an array of content parts.");
        }
    }

    private static object? ReadToolResult(JsonElement content, int index)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.Undefined:
            case JsonValueKind.Null:
                return "";
            case JsonValueKind.String:
                return content.GetString();
            case JsonValueKind.Array:
                List<AIContent> parts = [];
                ReadContent(content, parts, index);
                var allText = true;
                for (var i = 0; i < parts.Count && allText; i++)
                {
                    allText = parts[i] is TextContent { AdditionalProperties: null };
                }

                if (!allText)
                {
                    return parts;
                }

                var text = new StringBuilder();
                for (var i = 0; i < parts.Count; i++)
                {
                    text.Append(((TextContent)parts[i]).Text);
                }

                return text.ToString();
            default:
                throw Invalid($"messages[{index}].content must be a string or an array of content parts.");
        }
    }

    private static AIContent ReadPart(JsonElement part, int index, int partIndex)
    {
        if (part.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"messages[{index}].content[{partIndex}] must be an object.");
        }

        var type = part.TryGetProperty("type", out var typeValue) && typeValue.ValueKind == JsonValueKind.String
            ? typeValue.GetString()
            : throw Invalid($"messages[{index}].content[{partIndex}].type is required.");

        AIContent content;
        switch (type)
        {
            case "text":
                content = new TextContent(RequiredString(part, "text", index, partIndex));
                break;
            case "refusal":
                content = Refusal(RequiredString(part, "refusal", index, partIndex));
                break;
            case "image_url":
                content = ReadImage(part, index, partIndex);
                break;
            case "input_audio":
                content = ReadAudio(part, index, partIndex);
                break;
            case "file":
                content = ReadFile(part, index, partIndex);
                break;
            default:
                return new OpenAIRawContent(part, isToolCall: false);
        }

        foreach (var property in part.EnumerateObject())
        {
            if (property.Name == "type" || property.Name == type)
            {
                continue;
            }

            var key = property.Name == CanonicalKeys.CacheControl ? CanonicalKeys.CacheControl : Prefix + property.Name;
            (content.AdditionalProperties ??= [])[key] = property.Value;
        }

        return content;
    }

    private static AIContent ReadImage(JsonElement part, int index, int partIndex)
    {
        string? url;
        string? detail = null;
        var image = Payload(part, "image_url", index, partIndex);
        if (image.ValueKind == JsonValueKind.String)
        {
            url = image.GetString();
        }
        else if (image.ValueKind == JsonValueKind.Object)
        {
            url = image.TryGetProperty("url", out var urlValue) && urlValue.ValueKind == JsonValueKind.String ? urlValue.GetString() : null;
            if (image.TryGetProperty("detail", out var detailValue))
            {
                detail = OptionalString(detailValue, $"messages[{index}].content[{partIndex}].image_url.detail");
            }
        }
        else
        {
            throw Invalid($"messages[{index}].content[{partIndex}].image_url must be an object.");
        }

        if (string.IsNullOrEmpty(url))
        {
            throw Invalid($"messages[{index}].content[{partIndex}].image_url.url is required.");
        }

        AIContent content;
        try
        {
            content = url.StartsWith("data:", StringComparison.OrdinalIgnoreCase)
                ? new DataContent(url)
                : new UriContent(url, "image/*");
        }
        catch (Exception ex) when (ex is UriFormatException or ArgumentException)
        {
            throw Invalid($"messages[{index}].content[{partIndex}].image_url.url is not a valid URL or data URL.", ex);
        }

        if (detail is not null)
        {
            content.AdditionalProperties = new() { [DetailKey] = detail };
        }

        return content;
    }

    private static DataContent ReadAudio(JsonElement part, int index, int partIndex)
    {
        var audio = Payload(part, "input_audio", index, partIndex);
        var data = audio.ValueKind == JsonValueKind.Object && audio.TryGetProperty("data", out var dataValue) && dataValue.ValueKind == JsonValueKind.String
            ? dataValue.GetString()
            : throw Invalid($"messages[{index}].content[{partIndex}].input_audio.data is required.");
        var format = audio.TryGetProperty("format", out var formatValue) && formatValue.ValueKind == JsonValueKind.String
            ? formatValue.GetString()!
            : throw Invalid($"messages[{index}].content[{partIndex}].input_audio.format is required.");

        var mediaType = format switch
        {
            "mp3" => "audio/mpeg",
            _ => "audio/" + format,
        };

        try
        {
            return new DataContent($"data:{mediaType};base64,{data}");
        }
        catch (Exception ex) when (ex is UriFormatException or ArgumentException)
        {
            throw Invalid($"messages[{index}].content[{partIndex}].input_audio.data is not valid base64.", ex);
        }
    }

    private static AIContent ReadFile(JsonElement part, int index, int partIndex)
    {
        var file = Payload(part, "file", index, partIndex);
        if (file.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"messages[{index}].content[{partIndex}].file must be an object.");
        }

        var path = $"messages[{index}].content[{partIndex}].file";
        var fileName = file.TryGetProperty("filename", out var nameValue) ? OptionalString(nameValue, path + ".filename") : null;
        if (file.TryGetProperty("file_data", out var dataValue) && OptionalString(dataValue, path + ".file_data") is { } data)
        {
            // OpenAI documents file_data as a data URL; bare base64 is taken as a PDF, the only file type it accepts here.
            var uri = data.StartsWith("data:", StringComparison.OrdinalIgnoreCase) ? data : "data:application/pdf;base64," + data;
            try
            {
                return new DataContent(uri) { Name = fileName };
            }
            catch (Exception ex) when (ex is UriFormatException or ArgumentException)
            {
                throw Invalid(path + ".file_data is not a valid data URL or base64.", ex);
            }
        }

        if (file.TryGetProperty("file_id", out var idValue) && OptionalString(idValue, path + ".file_id") is { } fileId)
        {
            return new HostedFileContent(fileId) { Name = fileName };
        }

        throw Invalid(path + " needs file_data or file_id.");
    }

    private static void ReadToolCalls(JsonElement toolCalls, List<AIContent> contents, int index)
    {
        if (toolCalls.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return;
        }

        if (toolCalls.ValueKind != JsonValueKind.Array)
        {
            throw Invalid($"messages[{index}].tool_calls must be an array.");
        }

        var callIndex = 0;
        foreach (var call in toolCalls.EnumerateArray())
        {
            var path = $"messages[{index}].tool_calls[{callIndex++}]";
            if (call.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(path + " must be an object.");
            }

            if (call.TryGetProperty("type", out var type) && !type.ValueEquals("function"u8))
            {
                contents.Add(new OpenAIRawContent(call, isToolCall: true));
                continue;
            }

            var id = call.TryGetProperty("id", out var idValue) && idValue.ValueKind == JsonValueKind.String
                ? idValue.GetString()!
                : throw Invalid(path + ".id is required.");
            if (!call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(path + ".function is required.");
            }

            var name = function.TryGetProperty("name", out var nameValue) && nameValue.ValueKind == JsonValueKind.String
                ? nameValue.GetString()!
                : throw Invalid(path + ".function.name is required.");

            function.TryGetProperty("arguments", out var arguments);
            contents.Add(arguments.ValueKind switch
            {
                JsonValueKind.String => CanonicalJson.CreateFunctionCall(id, name, arguments.GetString()),
                JsonValueKind.Object => new FunctionCallContent(id, name, CanonicalJson.ToDictionary(arguments)),
                JsonValueKind.Undefined or JsonValueKind.Null => new FunctionCallContent(id, name, new Dictionary<string, object?>()),
                _ => throw Invalid(path + ".function.arguments must be a string."),
            });
        }
    }

    private void WriteMessage(Utf8JsonWriter writer, ChatMessage message)
    {
        var contents = message.Contents;
        var role = message.Role;
        var properties = message.AdditionalProperties;
        var isAssistant = role == ChatRole.Assistant;

        List<AIContent>? parts = null;
        List<AIContent>? calls = null;
        StringBuilder? reasoning = null;
        StringBuilder? refusal = null;
        var resultCount = 0;

        for (var i = 0; i < contents.Count; i++)
        {
            var content = contents[i];
            switch (content)
            {
                case FunctionResultContent result:
                    WriteToolMessage(writer, result, properties);
                    resultCount++;
                    break;
                case FunctionCallContent:
                case OpenAIRawContent { IsToolCall: true }:
                    (calls ??= []).Add(content);
                    break;
                case TextReasoningContent thinking:
                    if (thinking.Text.Length > 0)
                    {
                        (reasoning ??= new()).Append(thinking.Text);
                    }

                    break;
                case TextContent text when IsRefusal(text):
                    (refusal ??= new()).Append(text.Text);
                    break;
                default:
                    if (IsWritablePart(content))
                    {
                        (parts ??= []).Add(content);
                    }

                    break;
            }
        }

        // Tool results travel as their own "tool" messages; what is left of a tool message (or of a user message that
        // only carried results, as Anthropic sends them) has nothing more to say.
        if (role == ChatRole.Tool || (resultCount > 0 && parts is null && calls is null))
        {
            return;
        }

        writer.WriteStartObject();
        var wireRole = role == ChatRole.System && properties?.TryGetValue(RoleKey, out var original) is true && original is string originalRole
            ? originalRole
            : role.Value;
        writer.WriteString("role", wireRole);

        writer.WritePropertyName("content");
        if (parts is null)
        {
            if (isAssistant && (calls is not null || refusal is not null))
            {
                writer.WriteNullValue();
            }
            else
            {
                writer.WriteStringValue("");
            }
        }
        else if (parts.Count == 1 && parts[0] is TextContent { AdditionalProperties: null } single)
        {
            writer.WriteStringValue(single.Text);
        }
        else
        {
            writer.WriteStartArray();
            for (var i = 0; i < parts.Count; i++)
            {
                WritePart(writer, parts[i]);
            }

            writer.WriteEndArray();
        }

        if (message.AuthorName is { } authorName)
        {
            writer.WriteString("name", authorName);
        }

        string? reasoningField = null;
        if (isAssistant)
        {
            if (refusal is not null)
            {
                writer.WriteString("refusal", refusal.ToString());
            }

            reasoningField = properties?.TryGetValue(ReasoningFieldKey, out var field) is true && field is string fieldName ? fieldName : _historyReasoningField;
            if (reasoning is not null && reasoningField is not null)
            {
                writer.WriteString(reasoningField, reasoning.ToString());
            }

            if (calls is not null)
            {
                writer.WriteStartArray("tool_calls");
                for (var i = 0; i < calls.Count; i++)
                {
                    WriteToolCall(writer, calls[i]);
                }

                writer.WriteEndArray();
            }
        }

        WriteMessageExtras(writer, properties, reasoning is not null ? reasoningField : null);
        writer.WriteEndObject();
    }

    private static void WriteToolMessage(Utf8JsonWriter writer, FunctionResultContent result, AdditionalPropertiesDictionary? properties)
    {
        writer.WriteStartObject();
        writer.WriteString("role", "tool");
        writer.WriteString("tool_call_id", result.CallId);
        writer.WritePropertyName("content");
        WriteToolResult(writer, result.Result);
        WriteMessageExtras(writer, properties, null);
        writer.WriteEndObject();
    }

    private static void WriteToolResult(Utf8JsonWriter writer, object? result)
    {
        switch (result)
        {
            case null:
                writer.WriteStringValue("");
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            case TextContent text:
                writer.WriteStringValue(text.Text);
                break;
            case JsonElement { ValueKind: JsonValueKind.String } element:
                writer.WriteStringValue(element.GetString());
                break;
            case JsonElement element:
                writer.WriteStringValue(element.GetRawText());
                break;
            case IList<AIContent> parts:
                if (parts.Count == 1 && parts[0] is TextContent { AdditionalProperties: null } single)
                {
                    writer.WriteStringValue(single.Text);
                    break;
                }

                writer.WriteStartArray();
                for (var i = 0; i < parts.Count; i++)
                {
                    if (IsWritablePart(parts[i]))
                    {
                        WritePart(writer, parts[i]);
                    }
                }

                writer.WriteEndArray();
                break;
            default:
                var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
                using (var valueWriter = new Utf8JsonWriter(buffer))
                {
                    CanonicalJson.WriteValue(valueWriter, result);
                }

                writer.WriteStringValue(Encoding.UTF8.GetString(buffer.WrittenSpan));
                break;
        }
    }

    private static void WriteMessageExtras(Utf8JsonWriter writer, AdditionalPropertiesDictionary? properties, string? writtenReasoningField)
    {
        if (properties is null)
        {
            return;
        }

        foreach (var pair in properties)
        {
            if (!IsOwnKey(pair.Key))
            {
                continue;
            }

            var name = pair.Key.AsSpan(Prefix.Length);
            if (name is "role" or "content" or "name" or "tool_calls" or "tool_call_id" or "refusal"
                || (writtenReasoningField is not null && name.SequenceEqual(writtenReasoningField)))
            {
                continue;
            }

            writer.WritePropertyName(name);
            CanonicalJson.WriteValue(writer, pair.Value);
        }
    }

    private static bool IsWritablePart(AIContent content) => content switch
    {
        TextContent or DataContent or HostedFileContent or OpenAIRawContent { IsToolCall: false } => true,
        UriContent uri => uri.HasTopLevelMediaType("image"),
        _ => false,
    };

    private static void WritePart(Utf8JsonWriter writer, AIContent content)
    {
        if (content is OpenAIRawContent raw)
        {
            raw.Raw.WriteTo(writer);
            return;
        }

        writer.WriteStartObject();
        switch (content)
        {
            case TextContent text:
                writer.WriteString("type", "text");
                writer.WriteString("text", text.Text);
                break;
            case UriContent uri:
                WriteImagePart(writer, uri.Uri.OriginalString, content);
                break;
            case DataContent data when data.HasTopLevelMediaType("image"):
                WriteImagePart(writer, data.Uri, content);
                break;
            case DataContent data when data.HasTopLevelMediaType("audio"):
                writer.WriteString("type", "input_audio");
                writer.WriteStartObject("input_audio");
                writer.WriteString("data", data.Base64Data.Span);
                writer.WriteString("format", data.MediaType switch
                {
                    "audio/mpeg" or "audio/mp3" => "mp3",
                    "audio/wav" or "audio/x-wav" or "audio/wave" => "wav",
                    var other => other["audio/".Length..],
                });
                writer.WriteEndObject();
                break;
            case DataContent data:
                writer.WriteString("type", "file");
                writer.WriteStartObject("file");
                writer.WriteString("file_data", data.Uri);
                if (data.Name is { } dataName)
                {
                    writer.WriteString("filename", dataName);
                }

                writer.WriteEndObject();
                break;
            case HostedFileContent file:
                writer.WriteString("type", "file");
                writer.WriteStartObject("file");
                writer.WriteString("file_id", file.FileId);
                if (file.Name is { } fileName)
                {
                    writer.WriteString("filename", fileName);
                }

                writer.WriteEndObject();
                break;
        }

        if (content.AdditionalProperties is { } properties)
        {
            foreach (var pair in properties)
            {
                if (pair.Key == CanonicalKeys.CacheControl)
                {
                    writer.WritePropertyName(CanonicalKeys.CacheControl);
                    CanonicalJson.WriteValue(writer, pair.Value);
                }
                else if (IsOwnKey(pair.Key))
                {
                    writer.WritePropertyName(pair.Key.AsSpan(Prefix.Length));
                    CanonicalJson.WriteValue(writer, pair.Value);
                }
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteImagePart(Utf8JsonWriter writer, string url, AIContent content)
    {
        writer.WriteString("type", "image_url");
        writer.WriteStartObject("image_url");
        writer.WriteString("url", url);
        if (content.AdditionalProperties?.TryGetValue(DetailKey, out var detail) is true && detail is not null)
        {
            writer.WritePropertyName("detail");
            CanonicalJson.WriteValue(writer, detail);
        }

        writer.WriteEndObject();
    }

    /// <summary>Writes one entry of <c>tool_calls</c>.</summary>
    internal static void WriteToolCall(Utf8JsonWriter writer, AIContent call)
    {
        if (call is OpenAIRawContent raw)
        {
            raw.Raw.WriteTo(writer);
            return;
        }

        var function = (FunctionCallContent)call;
        writer.WriteStartObject();
        writer.WriteString("id", function.CallId);
        writer.WriteString("type", "function");
        writer.WriteStartObject("function");
        writer.WriteString("name", function.Name);
        writer.WriteString("arguments", CanonicalJson.GetArgumentsText(function));
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static TextContent Refusal(string text) => new(text) { AdditionalProperties = new() { [RefusalKey] = true } };

    private static bool IsRefusal(TextContent text) =>
        text.AdditionalProperties?.TryGetValue(RefusalKey, out var value) is true && value is true;

    private static JsonElement Payload(JsonElement part, string type, int index, int partIndex) =>
        part.TryGetProperty(type, out var payload) ? payload : throw Invalid($"messages[{index}].content[{partIndex}].{type} is required.");

    private static string RequiredString(JsonElement part, string name, int index, int partIndex) =>
        part.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw Invalid($"messages[{index}].content[{partIndex}].{name} must be a string.");
}
