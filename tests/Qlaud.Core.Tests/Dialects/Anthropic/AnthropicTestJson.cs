using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Qlaud.Core.Tests.Dialects.Anthropic;

/// <summary>JSON helpers for the Anthropic dialect tests.</summary>
internal static class AnthropicTestJson
{
    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    /// <summary>Runs <paramref name="write"/> against a fresh writer and returns the JSON text.</summary>
    public static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static JsonElement Parse(string json) => JsonElement.Parse(json);

    /// <summary>Asserts that two JSON texts are equal as JSON (property order ignored, numbers by value).</summary>
    public static void Equal(string expected, string actual)
    {
        var e = JsonNode.Parse(expected);
        var a = JsonNode.Parse(actual);
        if (!JsonNode.DeepEquals(e, a))
        {
            Assert.Fail($"JSON differs.\nExpected:\n{e?.ToJsonString(s_indented)}\nActual:\n{a?.ToJsonString(s_indented)}");
        }
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}

/// <summary>One server-sent event.</summary>
internal sealed record SseEvent(string Event, string Data);

/// <summary>Parses and checks the framing of server-sent events.</summary>
internal static class Sse
{
    /// <summary>
    /// Parses <c>event: NAME\ndata: JSON\n\n</c> frames. Strict: every frame must have exactly one <c>event:</c> line
    /// followed by one <c>data:</c> line, and the text must end with a blank line.
    /// </summary>
    public static List<SseEvent> ParseStrict(string text)
    {
        Assert.EndsWith("\n\n", text);
        var events = new List<SseEvent>();
        foreach (var frame in text[..^2].Split("\n\n"))
        {
            var lines = frame.Split('\n');
            Assert.Equal(2, lines.Length);
            Assert.StartsWith("event: ", lines[0]);
            Assert.StartsWith("data: ", lines[1]);
            events.Add(new SseEvent(lines[0]["event: ".Length..], lines[1]["data: ".Length..]));
        }

        return events;
    }

    /// <summary>Parses a recorded stream leniently (extra spaces after colons, <c>data:</c> lines joined).</summary>
    public static List<SseEvent> ParseRecorded(string text)
    {
        var events = new List<SseEvent>();
        foreach (var frame in text.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string name = "";
            var data = new StringBuilder();
            foreach (var line in frame.Split('\n'))
            {
                if (line.StartsWith("event:", StringComparison.Ordinal))
                {
                    name = line["event:".Length..].Trim();
                }
                else if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    if (data.Length > 0)
                    {
                        data.Append('\n');
                    }

                    data.Append(line["data:".Length..].TrimStart());
                }
            }

            if (data.Length > 0)
            {
                events.Add(new SseEvent(name, data.ToString()));
            }
        }

        return events;
    }
}

/// <summary>
/// Folds an Anthropic event stream into the final message by Anthropic's documented rules, and fails on any event that
/// breaks the documented order: <c>message_start</c> first; blocks one at a time, indexes 0, 1, 2, … each opened by
/// <c>content_block_start</c>, changed only by deltas of its own type, closed by <c>content_block_stop</c>;
/// <c>message_delta</c> after the last block; <c>message_stop</c> last. Usage follows the official SDKs: message_start's
/// usage, then each message_delta's <c>output_tokens</c> and any non-null input counts replace the earlier values.
/// </summary>
internal sealed class AnthropicStreamAccumulator
{
    private readonly Dictionary<int, StringBuilder> _json = [];
    private int _open = -1;
    private bool _sawMessageDelta;

    public JsonObject? Message { get; private set; }

    public List<string> EventNames { get; } = [];

    public bool Stopped { get; private set; }

    public JsonObject? Error { get; private set; }

    /// <summary>When true, deltas may also target an earlier, already closed block (index-based accumulation as the SDKs do).</summary>
    public bool AllowLateDeltas { get; init; }

    public static AnthropicStreamAccumulator FromSse(string sse, bool allowLateDeltas = false)
    {
        var accumulator = new AnthropicStreamAccumulator { AllowLateDeltas = allowLateDeltas };
        foreach (var e in Sse.ParseStrict(sse))
        {
            accumulator.Apply(e.Event, e.Data);
        }

        return accumulator;
    }

    public void Apply(string eventName, string data)
    {
        Assert.False(Stopped, $"event {eventName} after message_stop");
        Assert.Null(Error);
        var node = JsonNode.Parse(data)!.AsObject();
        Assert.Equal(eventName, (string?)node["type"]);
        EventNames.Add(eventName);
        if (eventName == "ping")
        {
            return;
        }

        if (eventName == "error")
        {
            Error = node["error"]!.AsObject();
            Assert.NotNull((string?)Error["type"]);
            Assert.NotNull((string?)Error["message"]);
            return;
        }

        if (eventName == "message_start")
        {
            Assert.Null(Message);
            var message = node["message"]!.AsObject();
            Assert.StartsWith("msg_", (string?)message["id"]);
            Assert.Equal("message", (string?)message["type"]);
            Assert.Equal("assistant", (string?)message["role"]);
            Assert.NotNull((string?)message["model"]);
            Assert.Empty(message["content"]!.AsArray());
            Assert.NotNull(message["usage"]?["input_tokens"]);
            Assert.NotNull(message["usage"]?["output_tokens"]);
            Message = (JsonObject)message.DeepClone();
            return;
        }

        Assert.True(Message is not null, $"{eventName} before message_start");
        var content = Message["content"]!.AsArray();
        switch (eventName)
        {
            case "content_block_start":
            {
                Assert.False(_sawMessageDelta, "content_block_start after message_delta");
                Assert.True(_open < 0, $"content_block_start while block {_open} is open");
                int index = (int)node["index"]!;
                Assert.Equal(content.Count, index);
                var block = node["content_block"]!.AsObject().DeepClone();
                content.Add(block);
                _open = index;
                break;
            }

            case "content_block_delta":
            {
                int index = (int)node["index"]!;
                Assert.True(index == _open || (AllowLateDeltas && index < content.Count), $"delta for block {index} while {_open} is open");
                var block = content[index]!.AsObject();
                var delta = node["delta"]!.AsObject();
                string blockType = (string)block["type"]!;
                switch ((string?)delta["type"])
                {
                    case "text_delta":
                        Assert.Equal("text", blockType);
                        block["text"] = (string)block["text"]! + (string)delta["text"]!;
                        break;
                    case "thinking_delta":
                        Assert.Equal("thinking", blockType);
                        block["thinking"] = (string)block["thinking"]! + (string)delta["thinking"]!;
                        break;
                    case "signature_delta":
                        Assert.Equal("thinking", blockType);
                        block["signature"] = (string)delta["signature"]!;
                        break;
                    case "input_json_delta":
                        Assert.True(blockType is "tool_use" or "server_tool_use", $"input_json_delta on a {blockType} block");
                        if (!_json.TryGetValue(index, out var json))
                        {
                            _json[index] = json = new StringBuilder();
                        }

                        json.Append((string)delta["partial_json"]!);
                        break;
                    default:
                        Assert.Fail($"unknown delta type {(string?)delta["type"]}");
                        break;
                }

                break;
            }

            case "content_block_stop":
            {
                int index = (int)node["index"]!;
                Assert.Equal(_open, index);
                _open = -1;
                FoldInput(content, index);
                break;
            }

            case "message_delta":
            {
                Assert.True(_open < 0, "message_delta while a block is open");
                _sawMessageDelta = true;
                var delta = node["delta"]!.AsObject();
                Message["stop_reason"] = delta["stop_reason"]?.DeepClone();
                Message["stop_sequence"] = delta["stop_sequence"]?.DeepClone();
                var usage = node["usage"]!.AsObject();
                var total = Message["usage"]!.AsObject();
                Assert.NotNull(usage["output_tokens"]);
                foreach (var (name, value) in usage)
                {
                    if (value is not null)
                    {
                        total[name] = value.DeepClone();
                    }
                }

                break;
            }

            case "message_stop":
                Assert.True(_sawMessageDelta, "message_stop without message_delta");
                Assert.True(_open < 0, "message_stop while a block is open");
                Stopped = true;
                // Arguments that arrived late for earlier blocks are folded at the end.
                foreach (var index in _json.Keys)
                {
                    FoldInput(content, index);
                }

                break;
            default:
                Assert.Fail($"unexpected event {eventName}");
                break;
        }
    }

    private void FoldInput(JsonArray content, int index)
    {
        var block = content[index]!.AsObject();
        if (_json.TryGetValue(index, out var json) && json.Length > 0)
        {
            block["input"] = JsonNode.Parse(json.ToString());
        }
    }
}
