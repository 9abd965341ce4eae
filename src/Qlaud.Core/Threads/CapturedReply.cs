using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Qlaud.Forwarding;
using Qlaud.Metering;

namespace Qlaud.Threads;

/// <summary>The assistant reply read back from the Anthropic-dialect answer the gateway relayed.</summary>
/// <param name="ContentJson">The reply's content blocks, a JSON array.</param>
/// <param name="StopReason">Its <c>stop_reason</c>, when it came.</param>
/// <param name="Usage">The usage it reported, when it did.</param>
/// <param name="Complete">Whether the whole reply arrived (a stream up to <c>message_stop</c>).</param>
internal sealed record CapturedReply(string ContentJson, string? StopReason, TokenUsage? Usage, bool Complete)
{
    /// <summary>The upstream message id (<c>message_start</c>), when a stream carried one.</summary>
    public string? MessageId { get; init; }

    /// <summary>The model the stream named, when it did.</summary>
    public string? Model { get; init; }

    /// <summary>The reply as a whole Anthropic Messages response, for a stream that was relayed event by event.</summary>
    public byte[] ToMessageJson(string fallbackModel)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(ContentJson.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("id", MessageId ?? "msg_unknown");
            writer.WriteString("type", "message");
            writer.WriteString("role", "assistant");
            writer.WriteString("model", Model ?? fallbackModel);
            writer.WritePropertyName("content");
            writer.WriteRawValue(ContentJson, skipInputValidation: true);
            writer.WriteString("stop_reason", StopReason);
            writer.WriteNull("stop_sequence");
            var usage = Usage ?? default;
            writer.WriteStartObject("usage");
            writer.WriteNumber("input_tokens", usage.Input - usage.CacheRead - usage.CacheWrite);
            writer.WriteNumber("cache_creation_input_tokens", usage.CacheWrite);
            writer.WriteNumber("cache_read_input_tokens", usage.CacheRead);
            writer.WriteNumber("output_tokens", usage.Output);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a whole (non-streamed) Anthropic Messages response; null when the body is not one.</summary>
    public static CapturedReply? FromMessage(ReadOnlySpan<byte> body)
    {
        try
        {
            using var document = JsonDocument.Parse(body.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            string? stop = root.TryGetProperty("stop_reason", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            TokenUsage? usage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object ? ReadUsage(u, null) : null;
            return new CapturedReply(content.GetRawText(), stop, usage, true);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Rebuilds the reply from Anthropic stream events (<c>message_start</c>, <c>content_block_*</c>,
    /// <c>message_delta</c>, <c>message_stop</c>). Blocks cut off before their end keep what arrived, except a tool call whose
    /// arguments are not whole JSON and a thinking block without its signature: they cannot be sent back to a model.</summary>
    public static CapturedReply FromStream(ReadOnlySpan<byte> events)
    {
        var blocks = new SortedDictionary<int, Block>();
        string? stop = null;
        TokenUsage? usage = null;
        bool complete = false;
        string? messageId = null, model = null;
        int consumed = 0;
        while (consumed < events.Length)
        {
            int end = SseEvent.FindEventEnd(events[consumed..]);
            var raw = end < 0 ? events[consumed..] : events.Slice(consumed, end);
            consumed = end < 0 ? events.Length : consumed + end;
            if (SseEvent.Parse(raw, out _, out var data) == 0 || data.IsEmpty)
            {
                continue;
            }

            JsonNode? node;
            try
            {
                node = JsonNode.Parse(data);
            }
            catch (JsonException)
            {
                continue; // an event cut in the middle
            }

            switch ((string?)node?["type"])
            {
                case "message_start":
                    messageId = (string?)node!["message"]?["id"];
                    model = (string?)node["message"]?["model"];
                    if (node!["message"]?["usage"] is JsonObject startUsage)
                    {
                        usage = ReadUsage(startUsage, usage);
                    }

                    break;
                case "content_block_start" when node!["index"] is JsonValue i && node["content_block"] is JsonObject block:
                    blocks[(int)i] = new Block((JsonObject)block.DeepClone());
                    break;
                case "content_block_delta" when node!["index"] is JsonValue i && blocks.TryGetValue((int)i, out var target) && node["delta"] is JsonObject delta:
                    target.Apply(delta);
                    break;
                case "content_block_stop" when node!["index"] is JsonValue i && blocks.TryGetValue((int)i, out var stopped):
                    stopped.Stopped = true;
                    break;
                case "message_delta":
                    stop = (string?)node!["delta"]?["stop_reason"] ?? stop;
                    if (node["usage"] is JsonObject deltaUsage)
                    {
                        usage = ReadUsage(deltaUsage, usage);
                    }

                    break;
                case "message_stop":
                    complete = true;
                    break;
                case "error":
                    complete = false;
                    break;
            }
        }

        var content = new JsonArray();
        foreach (var block in blocks.Values)
        {
            if (block.Finish() is { } finished)
            {
                content.Add(finished);
            }
        }

        return new CapturedReply(content.ToJsonString(), stop, usage, complete) { MessageId = messageId, Model = model };
    }

    /// <summary>Anthropic usage: <c>message_start</c> carries the input counts, <c>message_delta</c> the cumulative output
    /// (and, on some providers, the input again): later non-zero values replace earlier ones.</summary>
    private static TokenUsage ReadUsage(JsonElement usage, TokenUsage? previous) => ReadUsage(JsonNode.Parse(usage.GetRawText())!.AsObject(), previous);

    private static TokenUsage ReadUsage(JsonObject usage, TokenUsage? previous)
    {
        var p = previous ?? default;
        long input = Number(usage, "input_tokens") ?? p.Input - p.CacheRead - p.CacheWrite;
        long cacheRead = Number(usage, "cache_read_input_tokens") ?? p.CacheRead;
        long cacheWrite = Number(usage, "cache_creation_input_tokens") ?? p.CacheWrite;
        long output = Number(usage, "output_tokens") ?? p.Output;
        if (input == 0 && p.Input > 0)
        {
            input = p.Input - p.CacheRead - p.CacheWrite;
        }

        return new TokenUsage(input + cacheRead + cacheWrite, output, cacheRead, cacheWrite);
    }

    private static long? Number(JsonObject usage, string name)
        => usage[name] is JsonValue value && value.TryGetValue(out long n) ? n : null;

    private sealed class Block(JsonObject block)
    {
        private StringBuilder? _json;

        public bool Stopped { get; set; }

        public void Apply(JsonObject delta)
        {
            switch ((string?)delta["type"])
            {
                case "text_delta":
                    block["text"] = (string?)block["text"] + (string?)delta["text"];
                    break;
                case "thinking_delta":
                    block["thinking"] = (string?)block["thinking"] + (string?)delta["thinking"];
                    break;
                case "signature_delta":
                    block["signature"] = (string?)delta["signature"];
                    break;
                case "input_json_delta":
                    (_json ??= new StringBuilder()).Append((string?)delta["partial_json"]);
                    break;
                case "citations_delta" when delta["citation"] is { } citation:
                    if (block["citations"] is not JsonArray citations)
                    {
                        block["citations"] = citations = [];
                    }

                    citations.Add(citation.DeepClone());
                    break;
            }
        }

        public JsonObject? Finish()
        {
            string? type = (string?)block["type"];
            if (type is "tool_use" or "server_tool_use" && _json is not null)
            {
                try
                {
                    block["input"] = JsonNode.Parse(_json.Length == 0 ? "{}" : _json.ToString());
                }
                catch (JsonException)
                {
                    return null;
                }
            }

            if (!Stopped && type is "tool_use" or "server_tool_use" && _json is null)
            {
                return null;
            }

            if (type == "thinking" && string.IsNullOrEmpty((string?)block["signature"]))
            {
                return null;
            }

            if (type == "text" && string.IsNullOrEmpty((string?)block["text"]))
            {
                return null;
            }

            return block;
        }
    }
}
