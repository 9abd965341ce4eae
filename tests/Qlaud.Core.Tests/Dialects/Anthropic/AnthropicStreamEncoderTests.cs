using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;
using static Qlaud.Core.Tests.Dialects.Anthropic.AnthropicTestJson;

namespace Qlaud.Core.Tests.Dialects.Anthropic;

public sealed class AnthropicStreamEncoderTests
{
    /// <summary>Encodes the updates, each into a fresh buffer as a relay flushing per chunk would, then completes.</summary>
    private static string Encode(IEnumerable<ChatResponseUpdate> updates, string model = "claude-sonnet-4-5", string responseId = "chatcmpl-ds1", QlaudError? fail = null)
    {
        var encoder = AnthropicDialect.Instance.CreateStreamEncoder(model, responseId);
        var sse = new StringBuilder();
        foreach (var update in updates)
        {
            var chunk = new ArrayBufferWriter<byte>();
            encoder.Encode(update, chunk);
            sse.Append(Encoding.UTF8.GetString(chunk.WrittenSpan));
        }

        var end = new ArrayBufferWriter<byte>();
        if (fail is not null)
        {
            encoder.Fail(fail, end);
        }

        encoder.Complete(end);
        sse.Append(Encoding.UTF8.GetString(end.WrittenSpan));
        return sse.ToString();
    }

    private static ChatResponseUpdate Update(params AIContent[] contents) => new(ChatRole.Assistant, contents);

    /// <summary>What the OpenAI decoder yields for a DeepSeek reasoner stream: reasoning_content deltas, text, two
    /// parallel tool calls (the first sharing a chunk with text), finish_reason tool_calls, then usage in a final chunk.</summary>
    private static List<ChatResponseUpdate> DeepSeekStyleUpdates() =>
    [
        new(ChatRole.Assistant, [new TextContent("")]) { ResponseId = "chatcmpl-ds1", ModelId = "deepseek-reasoner" },
        Update(new TextReasoningContent("The user wants two files.")),
        Update(new TextReasoningContent(" Read both in parallel.")),
        Update(new TextContent("I'll read both files.")),
        Update(new TextContent(" Starting now."), new ToolCallDeltaContent { Index = 0, CallId = "call_0", Name = "read_file" }),
        Update(new ToolCallDeltaContent { Index = 0, ArgumentsDelta = "{\"path\":" }),
        Update(new ToolCallDeltaContent { Index = 0, ArgumentsDelta = "\"src/a.cs\"}" }),
        Update(new ToolCallDeltaContent { Index = 1, CallId = "call_1", Name = "read_file", ArgumentsDelta = "{\"path\":\"src/b.cs\"}" }),
        new() { FinishReason = ChatFinishReason.ToolCalls, AdditionalProperties = new() { [CanonicalKeys.RawFinishReason] = "tool_calls" } },
        Update(new UsageContent(new UsageDetails { InputTokenCount = 1200, CachedInputTokenCount = 1000, OutputTokenCount = 85, ReasoningTokenCount = 20, TotalTokenCount = 1285 })),
    ];

    [Fact]
    public void Encode_DeepSeekStyleStream_ProducesDocumentedEventOrder()
    {
        string sse = Encode(DeepSeekStyleUpdates());

        var accumulator = AnthropicStreamAccumulator.FromSse(sse);

        Assert.True(accumulator.Stopped);
        Assert.Equal(
        [
            "message_start",
            "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
            "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
            "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
            "content_block_start", "content_block_delta", "content_block_stop",
            "message_delta", "message_stop",
        ], accumulator.EventNames);
    }

    [Fact]
    public void Encode_DeepSeekStyleStream_AccumulatesToExpectedMessage()
    {
        var accumulator = AnthropicStreamAccumulator.FromSse(Encode(DeepSeekStyleUpdates()));

        Equal("""
        {
          "id": "msg_chatcmpl-ds1",
          "type": "message",
          "role": "assistant",
          "model": "claude-sonnet-4-5",
          "content": [
            { "type": "thinking", "thinking": "The user wants two files. Read both in parallel.", "signature": "" },
            { "type": "text", "text": "I'll read both files. Starting now." },
            { "type": "tool_use", "id": "call_0", "name": "read_file", "input": { "path": "src/a.cs" }, "caller": { "type": "direct" } },
            { "type": "tool_use", "id": "call_1", "name": "read_file", "input": { "path": "src/b.cs" }, "caller": { "type": "direct" } }
          ],
          "stop_reason": "tool_use",
          "stop_sequence": null,
          "usage": { "input_tokens": 200, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1000, "output_tokens": 85 }
        }
        """, accumulator.Message!.ToJsonString());
    }

    [Fact]
    public void Encode_FirstEvent_IsFramedMessageStart()
    {
        string sse = Encode([]);

        Assert.StartsWith(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_chatcmpl-ds1\",\"type\":\"message\",\"role\":\"assistant\","
            + "\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
            + "\"usage\":{\"input_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0}}}\n\n",
            sse);
        Assert.EndsWith("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", sse);
    }

    [Fact]
    public void Complete_NoContent_StillProducesValidMessage()
    {
        var accumulator = AnthropicStreamAccumulator.FromSse(Encode([]));

        Assert.Equal(["message_start", "message_delta", "message_stop"], accumulator.EventNames);
        Equal("""
        {
          "id": "msg_chatcmpl-ds1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
          "stop_reason": "end_turn", "stop_sequence": null,
          "usage": { "input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0 }
        }
        """, accumulator.Message!.ToJsonString());
    }

    [Fact]
    public void Encode_TextAndToolCallInOneChunk_YieldsBothBlocksWithName()
    {
        var accumulator = AnthropicStreamAccumulator.FromSse(Encode(
        [
            Update(new TextContent("Checking."), new ToolCallDeltaContent { Index = 0, CallId = "call_9", Name = "get_time", ArgumentsDelta = "{}" }),
            new() { FinishReason = ChatFinishReason.Stop },
        ]));

        Equal("""
        [{"type":"text","text":"Checking."},{"type":"tool_use","id":"call_9","name":"get_time","input":{},"caller":{"type":"direct"}}]
        """, accumulator.Message!["content"]!.ToJsonString());
        Assert.Equal("tool_use", (string?)accumulator.Message["stop_reason"]);
    }

    [Fact]
    public void Encode_SignedThinkingBlocksAndRedacted_EachGetOwnBlock()
    {
        var accumulator = AnthropicStreamAccumulator.FromSse(Encode(
        [
            Update(new TextReasoningContent("first")),
            Update(new TextReasoningContent("") { ProtectedData = "sig-1" }),
            Update(new TextReasoningContent("second")),
            Update(new TextReasoningContent("") { ProtectedData = "sig-2" }),
            Update(new TextReasoningContent("") { ProtectedData = "opaque", AdditionalProperties = new() { [CanonicalKeys.Redacted] = true } }),
            Update(new TextContent("done")),
        ]));

        Equal("""
        [
          {"type":"thinking","thinking":"first","signature":"sig-1"},
          {"type":"thinking","thinking":"second","signature":"sig-2"},
          {"type":"redacted_thinking","data":"opaque"},
          {"type":"text","text":"done"}
        ]
        """, accumulator.Message!["content"]!.ToJsonString());
    }

    [Fact]
    public void Encode_AnthropicStreamThroughCanonical_ReproducesTheMessage()
    {
        var (updates, _) = AnthropicStreamDecoderTests.Decode(AnthropicFixtures.ThinkingTextToolStream);
        var original = new AnthropicStreamAccumulator();
        foreach (var e in Sse.ParseRecorded(AnthropicFixtures.ThinkingTextToolStream))
        {
            original.Apply(e.Event, e.Data);
        }

        var reencoded = AnthropicStreamAccumulator.FromSse(Encode(updates, "claude-sonnet-4-5-20250929", "msg_01RkXh9zJ4cY2dnq3pXvgt8E"));

        var expected = (JsonObject)original.Message!.DeepClone();
        var usage = expected["usage"]!.AsObject();
        usage.Remove("cache_creation"); // breakdown by TTL and service tier have no canonical counterpart in a stream
        usage.Remove("service_tier");
        Equal(expected.ToJsonString(), reencoded.Message!.ToJsonString());
        Assert.Equal(22335, (int)reencoded.Message["usage"]!["input_tokens"]! + 1843 + 20480);
    }

    [Fact]
    public void Encode_UsageKnownAtStart_WrittenInMessageStart()
    {
        string sse = Encode(
        [
            new(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = 2300, CachedInputTokenCount = 2000, AdditionalCounts = new() { [CanonicalKeys.CacheWriteTokens] = 100 } })]),
            Update(new TextContent("Hi")),
            Update(new UsageContent(new UsageDetails { OutputTokenCount = 12 })),
        ]);

        var start = JsonNode.Parse(Sse.ParseStrict(sse)[0].Data)!["message"]!["usage"]!;
        Equal("""{"input_tokens":200,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":0}""", start.ToJsonString());
        var final = AnthropicStreamAccumulator.FromSse(sse).Message!["usage"]!;
        Equal("""{"input_tokens":200,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":12}""", final.ToJsonString());
    }

    [Theory]
    [InlineData("length", null, "max_tokens")]
    [InlineData("content_filter", null, "refusal")]
    [InlineData("stop", "pause_turn", "pause_turn")]
    [InlineData("stop", "stop_sequence", "stop_sequence")]
    [InlineData(null, null, "end_turn")]
    public void Complete_FinishReason_MapsToStopReason(string? finish, string? raw, string expected)
    {
        var update = new ChatResponseUpdate(ChatRole.Assistant, "x")
        {
            FinishReason = finish is null ? null : new ChatFinishReason(finish),
            AdditionalProperties = raw is null ? null : new() { [CanonicalKeys.RawFinishReason] = raw, ["anthropic:stop_sequence"] = "###" },
        };

        var message = AnthropicStreamAccumulator.FromSse(Encode([update])).Message!;

        Assert.Equal(expected, (string?)message["stop_reason"]);
        Assert.Equal(raw is null ? null : "###", (string?)message["stop_sequence"]);
    }

    [Fact]
    public void Fail_MidStream_WritesErrorEventLast()
    {
        string sse = Encode([Update(new TextContent("partial"))], fail: new QlaudError(QlaudErrorKind.Unavailable, "Upstream overloaded"));

        var events = Sse.ParseStrict(sse);
        Assert.Equal("error", events[^1].Event);
        Equal("""{"type":"error","error":{"type":"overloaded_error","message":"Upstream overloaded"}}""", events[^1].Data);
        Assert.DoesNotContain(events, e => e.Event is "message_stop" or "message_delta");
        var accumulator = AnthropicStreamAccumulator.FromSse(sse);
        Assert.Equal("overloaded_error", (string?)accumulator.Error!["type"]);
    }

    [Fact]
    public void Fail_BeforeAnything_WritesOnlyErrorEvent()
    {
        var events = Sse.ParseStrict(Encode([], fail: new QlaudError(QlaudErrorKind.RateLimited, "Slow down")));

        var only = Assert.Single(events);
        Assert.Equal("error", only.Event);
        Equal("""{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}""", only.Data);
    }

    [Fact]
    public void Encode_InterleavedToolArguments_SerializedIntoSequentialBlocks()
    {
        string sse = Encode(
        [
            Update(new ToolCallDeltaContent { Index = 0, CallId = "call_a", Name = "f", ArgumentsDelta = "{\"x\":" }),
            Update(new ToolCallDeltaContent { Index = 1, CallId = "call_b", Name = "g", ArgumentsDelta = "{\"y\":" }),
            Update(new ToolCallDeltaContent { Index = 2, CallId = "call_c", Name = "h", ArgumentsDelta = "{\"s\":\"}{\"" }),
            Update(new ToolCallDeltaContent { Index = 0, ArgumentsDelta = "1}" }),
            Update(new ToolCallDeltaContent { Index = 1, ArgumentsDelta = "2}" }),
            Update(new ToolCallDeltaContent { Index = 2, ArgumentsDelta = "}" }),
        ]);

        var accumulator = AnthropicStreamAccumulator.FromSse(sse);

        Equal("""
        [
          {"type":"tool_use","id":"call_a","name":"f","input":{"x":1},"caller":{"type":"direct"}},
          {"type":"tool_use","id":"call_b","name":"g","input":{"y":2},"caller":{"type":"direct"}},
          {"type":"tool_use","id":"call_c","name":"h","input":{"s":"}{"},"caller":{"type":"direct"}}
        ]
        """, accumulator.Message!["content"]!.ToJsonString());
    }

    [Fact]
    public void Encode_FragmentForCompletedCall_SentToItsBlockNotDropped()
    {
        var accumulator = AnthropicStreamAccumulator.FromSse(Encode(
        [
            Update(new ToolCallDeltaContent { Index = 0, CallId = "call_a", Name = "f", ArgumentsDelta = "{\"x\":1}" }),
            Update(new ToolCallDeltaContent { Index = 1, CallId = "call_b", Name = "g", ArgumentsDelta = "{}" }),
            Update(new ToolCallDeltaContent { Index = 0, ArgumentsDelta = " " }),
        ]), allowLateDeltas: true);

        Assert.Equal(2, accumulator.Message!["content"]!.AsArray().Count);
        Equal("""{"x":1}""", accumulator.Message["content"]![0]!["input"]!.ToJsonString());
    }

    [Fact]
    public void Encode_WholeFunctionCallAndMissingCallId_WriteToolUseBlocks()
    {
        var accumulator = AnthropicStreamAccumulator.FromSse(Encode(
        [
            Update(new FunctionCallContent("call_w", "search", new Dictionary<string, object?> { ["q"] = "ünïcode", ["n"] = 3 })),
            Update(new ToolCallDeltaContent { Index = 5, Name = "noid", ArgumentsDelta = "{}" }),
        ]));

        var content = accumulator.Message!["content"]!.AsArray();
        Equal("""{"type":"tool_use","id":"call_w","name":"search","input":{"q":"ünïcode","n":3},"caller":{"type":"direct"}}""", content[0]!.ToJsonString());
        Assert.StartsWith("toolu_", (string?)content[1]!["id"]);
        Assert.Equal("noid", (string?)content[1]!["name"]);
    }

    [Fact]
    public void Encode_NonAsciiText_WrittenAsUtf8()
    {
        string sse = Encode([Update(new TextContent("héllo 世界 <b>"))]);

        Assert.Contains("\"text\":\"héllo 世界 <b>\"", sse, StringComparison.Ordinal);
    }

    [Fact]
    public void Complete_CalledTwice_WritesOnce()
    {
        var encoder = AnthropicDialect.Instance.CreateStreamEncoder("m", "msg_1");
        var output = new ArrayBufferWriter<byte>();

        encoder.Complete(output);
        int length = output.WrittenCount;
        encoder.Complete(output);
        encoder.Encode(Update(new TextContent("late")), output);

        Assert.Equal(length, output.WrittenCount);
    }
}
