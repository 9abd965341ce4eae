using System.Buffers;
using System.Collections;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects;

/// <summary>JSON helpers for canonical values that every codec needs: tool call arguments and arbitrary values.</summary>
internal static class CanonicalJson
{
    /// <summary>
    /// Creates a whole tool call from its arguments text. A JSON object becomes the arguments dictionary (values are
    /// <see cref="JsonElement"/>); empty text means no arguments; anything else keeps the text under
    /// <see cref="CanonicalKeys.RawArguments"/> with <see cref="FunctionCallContent.Exception"/> set, so nothing is lost.
    /// </summary>
    public static FunctionCallContent CreateFunctionCall(string callId, string name, string? argumentsText)
    {
        if (string.IsNullOrWhiteSpace(argumentsText))
        {
            return new FunctionCallContent(callId, name, new Dictionary<string, object?>());
        }

        Exception? error = null;
        try
        {
            var root = JsonElement.Parse(argumentsText);
            if (root.ValueKind == JsonValueKind.Object)
            {
                return new FunctionCallContent(callId, name, ToDictionary(root));
            }
        }
        catch (JsonException ex)
        {
            error = ex;
        }

        return new FunctionCallContent(callId, name)
        {
            Exception = new InvalidOperationException($"The arguments of tool call '{name}' are not a JSON object.", error),
            AdditionalProperties = new() { [CanonicalKeys.RawArguments] = argumentsText },
        };
    }

    /// <summary>The properties of a JSON object as an arguments dictionary.</summary>
    public static Dictionary<string, object?> ToDictionary(JsonElement obj)
    {
        var result = new Dictionary<string, object?>();
        foreach (var property in obj.EnumerateObject())
        {
            result[property.Name] = property.Value;
        }

        return result;
    }

    /// <summary>The arguments text to send for <paramref name="call"/>: the kept raw text, else the serialized arguments.</summary>
    public static string GetArgumentsText(FunctionCallContent call)
    {
        if (call.AdditionalProperties?.TryGetValue(CanonicalKeys.RawArguments, out var raw) is true && raw is string rawText)
        {
            return rawText;
        }

        if (call.Arguments is null)
        {
            return "{}";
        }

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteValue(writer, call.Arguments);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// Writes a value that came from the canonical model (a <see cref="JsonElement"/> from a decoder, or whatever an
    /// in-process caller put there). Known shapes are written directly; other types go through the
    /// Microsoft.Extensions.AI serializer options and fall back to their string form when no contract is available.
    /// </summary>
    public static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonElement element:
                element.WriteTo(writer);
                break;
            case JsonNode node:
                node.WriteTo(writer);
                break;
            case JsonDocument document:
                document.WriteTo(writer);
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            case bool flag:
                writer.WriteBooleanValue(flag);
                break;
            case int number:
                writer.WriteNumberValue(number);
                break;
            case long number:
                writer.WriteNumberValue(number);
                break;
            case double number:
                writer.WriteNumberValue(number);
                break;
            case float number:
                writer.WriteNumberValue(number);
                break;
            case decimal number:
                writer.WriteNumberValue(number);
                break;
            case IDictionary<string, object?> dictionary:
                writer.WriteStartObject();
                foreach (var pair in dictionary)
                {
                    writer.WritePropertyName(pair.Key);
                    WriteValue(writer, pair.Value);
                }

                writer.WriteEndObject();
                break;
            case IList list:
                writer.WriteStartArray();
                for (var i = 0; i < list.Count; i++)
                {
                    WriteValue(writer, list[i]);
                }

                writer.WriteEndArray();
                break;
            default:
                WriteSerialized(writer, value);
                break;
        }
    }

    private static void WriteSerialized(Utf8JsonWriter writer, object value)
    {
        System.Text.Json.Serialization.Metadata.JsonTypeInfo typeInfo;
        try
        {
            typeInfo = AIJsonUtilities.DefaultOptions.GetTypeInfo(value.GetType());
        }
        catch (NotSupportedException)
        {
            writer.WriteStringValue(value.ToString());
            return;
        }

        JsonSerializer.Serialize(writer, value, typeInfo);
    }
}
