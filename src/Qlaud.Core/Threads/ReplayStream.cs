using System.Buffers;
using System.Text.Json;

namespace Qlaud.Threads;

/// <summary>Writes a stored Anthropic message as the stream events that make it up (<c>message_start</c>, one
/// <c>content_block_start</c>/<c>_delta</c>/<c>_stop</c> per block, <c>message_delta</c>, <c>message_stop</c>), for an
/// idempotent retry of a streamed turn.</summary>
internal static class ReplayStream
{
    public static byte[] Write(JsonElement message)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using var writer = new Utf8JsonWriter(buffer);

        Event(buffer, writer, "message_start", message, static (w, m) =>
        {
            w.WriteStartObject("message");
            foreach (var property in m.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "content":
                        w.WriteStartArray("content");
                        w.WriteEndArray();
                        break;
                    case "stop_reason" or "stop_sequence":
                        w.WriteNull(property.Name);
                        break;
                    default:
                        property.WriteTo(w);
                        break;
                }
            }

            w.WriteEndObject();
        });

        int index = 0;
        foreach (var block in message.GetProperty("content").EnumerateArray())
        {
            var state = (Index: index, Block: block);
            Event(buffer, writer, "content_block_start", state, static (w, s) =>
            {
                w.WriteNumber("index", s.Index);
                w.WriteStartObject("content_block");
                foreach (var property in s.Block.EnumerateObject())
                {
                    switch (property.Name)
                    {
                        case "text" or "thinking":
                            w.WriteString(property.Name, "");
                            break;
                        case "input":
                            w.WriteStartObject("input");
                            w.WriteEndObject();
                            break;
                        case "signature" or "citations":
                            break;
                        default:
                            property.WriteTo(w);
                            break;
                    }
                }

                w.WriteEndObject();
            });
            foreach (var (type, field, value) in Deltas(block))
            {
                Event(buffer, writer, "content_block_delta", (state.Index, type, field, value), static (w, s) =>
                {
                    w.WriteNumber("index", s.Index);
                    w.WriteStartObject("delta");
                    w.WriteString("type", s.type);
                    w.WriteString(s.field, s.value);
                    w.WriteEndObject();
                });
            }

            Event(buffer, writer, "content_block_stop", index, static (w, i) => w.WriteNumber("index", i));
            index++;
        }

        Event(buffer, writer, "message_delta", message, static (w, m) =>
        {
            w.WriteStartObject("delta");
            w.WritePropertyName("stop_reason");
            (m.TryGetProperty("stop_reason", out var stop) ? stop : default).WriteNullable(w);
            w.WritePropertyName("stop_sequence");
            (m.TryGetProperty("stop_sequence", out var sequence) ? sequence : default).WriteNullable(w);
            w.WriteEndObject();
            w.WriteStartObject("usage");
            w.WriteNumber("output_tokens", m.TryGetProperty("usage", out var usage) && usage.TryGetProperty("output_tokens", out var output) ? output.GetInt64() : 0);
            w.WriteEndObject();
        });
        Event(buffer, writer, "message_stop", 0, static (_, _) => { });
        return buffer.WrittenSpan.ToArray();
    }

    private static IEnumerable<(string Type, string Field, string Value)> Deltas(JsonElement block)
    {
        switch (block.TryGetProperty("type", out var type) ? type.GetString() : null)
        {
            case "text":
                yield return ("text_delta", "text", block.GetProperty("text").GetString() ?? "");
                break;
            case "thinking":
                yield return ("thinking_delta", "thinking", block.GetProperty("thinking").GetString() ?? "");
                if (block.TryGetProperty("signature", out var signature))
                {
                    yield return ("signature_delta", "signature", signature.GetString() ?? "");
                }

                break;
            case "tool_use" or "server_tool_use" or "mcp_tool_use" when block.TryGetProperty("input", out var input):
                yield return ("input_json_delta", "partial_json", input.GetRawText());
                break;
        }
    }

    private static void WriteNullable(this JsonElement value, Utf8JsonWriter writer)
    {
        if (value.ValueKind == JsonValueKind.Undefined)
        {
            writer.WriteNullValue();
        }
        else
        {
            value.WriteTo(writer);
        }
    }

    private static void Event<T>(ArrayBufferWriter<byte> buffer, Utf8JsonWriter writer, string name, T state, Action<Utf8JsonWriter, T> body)
    {
        writer.Flush();
        buffer.Write("event: "u8);
        buffer.Write(System.Text.Encoding.UTF8.GetBytes(name));
        buffer.Write("\ndata: "u8);
        writer.Reset(buffer);
        writer.WriteStartObject();
        writer.WriteString("type", name);
        body(writer, state);
        writer.WriteEndObject();
        writer.Flush();
        buffer.Write("\n\n"u8);
    }
}
