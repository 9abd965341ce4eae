using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;
using static Qlaud.Core.Tests.Dialects.Anthropic.AnthropicTestJson;

namespace Qlaud.Core.Tests.Dialects.Anthropic;

public sealed class AnthropicStreamDecoderTests
{
    internal static (List<ChatResponseUpdate> Updates, IStreamDecoder Decoder) Decode(string sse, bool withEventNames = true)
    {
        var decoder = AnthropicDialect.Instance.CreateStreamDecoder();
        var updates = new List<ChatResponseUpdate>();
        foreach (var e in Sse.ParseRecorded(sse))
        {
            decoder.Decode(withEventNames ? Utf8(e.Event) : [], Utf8(e.Data), updates);
        }

        return (updates, decoder);
    }

    private static string Frames(params string[] data)
    {
        var sse = new StringBuilder();
        foreach (var d in data)
        {
            string name = JsonElement.Parse(d).GetProperty("type").GetString()!;
            sse.Append("event: ").Append(name).Append('\n').Append("data: ").Append(d).Append("\n\n");
        }

        return sse.ToString();
    }

    private const string Start = """{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}""";

    [Fact]
    public void Decode_RecordedThinkingTextToolStream_EmitsCanonicalUpdatesInOrder()
    {
        var (updates, decoder) = Decode(AnthropicFixtures.ThinkingTextToolStream);

        Assert.True(decoder.Completed);
        Assert.All(updates, u => Assert.Equal("msg_01RkXh9zJ4cY2dnq3pXvgt8E", u.ResponseId));
        Assert.All(updates, u => Assert.Equal("claude-sonnet-4-5-20250929", u.ModelId));

        var startUsage = Assert.IsType<UsageContent>(Assert.Single(updates[0].Contents)).Details;
        Assert.Equal(12 + 1843 + 20480, startUsage.InputTokenCount);
        Assert.Equal(20480, startUsage.CachedInputTokenCount);
        Assert.Equal(1843, startUsage.AdditionalCounts![CanonicalKeys.CacheWriteTokens]);
        Assert.Null(startUsage.OutputTokenCount);

        var contents = updates.Skip(1).SelectMany(u => u.Contents).ToList();
        Assert.Equal("The user wants the weather in Paris.", Assert.IsType<TextReasoningContent>(contents[0]).Text);
        Assert.Equal(" I should call get_weather with celsius.", Assert.IsType<TextReasoningContent>(contents[1]).Text);
        var signature = Assert.IsType<TextReasoningContent>(contents[2]);
        Assert.Equal("", signature.Text);
        Assert.StartsWith("EqQBCgIYAhIM1gbcDa9GJwZA2b3h", signature.ProtectedData);
        Assert.Equal("I'll check the current weather", Assert.IsType<TextContent>(contents[3]).Text);
        Assert.Equal(" in Paris for you.", Assert.IsType<TextContent>(contents[4]).Text);
        var toolStart = Assert.IsType<ToolCallDeltaContent>(contents[5]);
        Assert.Equal((0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", ""), (toolStart.Index, toolStart.CallId, toolStart.Name, toolStart.ArgumentsDelta));
        Assert.Equal("{\"location\": \"Par", Assert.IsType<ToolCallDeltaContent>(contents[6]).ArgumentsDelta);
        Assert.Equal("is, France\", \"unit\": \"celsius\"}", Assert.IsType<ToolCallDeltaContent>(contents[7]).ArgumentsDelta);

        var last = updates[^1];
        Assert.Equal(ChatFinishReason.ToolCalls, last.FinishReason);
        Assert.Equal("tool_use", last.AdditionalProperties![CanonicalKeys.RawFinishReason]);
        var endUsage = Assert.IsType<UsageContent>(Assert.Single(last.Contents)).Details;
        Assert.Equal(89, endUsage.OutputTokenCount);
        Assert.Null(endUsage.InputTokenCount); // repeated cumulative input is not reported twice
    }

    [Fact]
    public void Decode_RecordedStream_FoldsIntoResponseWithMeai()
    {
        var (updates, _) = Decode(AnthropicFixtures.ThinkingTextToolStream);

        var response = updates.ToChatResponse();

        Assert.Equal("msg_01RkXh9zJ4cY2dnq3pXvgt8E", response.ResponseId);
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        var message = Assert.Single(response.Messages);
        var thinking = Assert.IsType<TextReasoningContent>(message.Contents[0]);
        Assert.Equal("The user wants the weather in Paris. I should call get_weather with celsius.", thinking.Text);
        Assert.StartsWith("EqQBCgIYAhIM", thinking.ProtectedData);
        Assert.Equal("I'll check the current weather in Paris for you.", Assert.IsType<TextContent>(message.Contents[1]).Text);
        string arguments = string.Concat(message.Contents.OfType<ToolCallDeltaContent>().Where(d => d.Index == 0).Select(d => d.ArgumentsDelta));
        Equal("""{"location":"Paris, France","unit":"celsius"}""", arguments);

        var usage = response.Usage!;
        Assert.Equal(12 + 1843 + 20480, usage.InputTokenCount);
        Assert.Equal(20480, usage.CachedInputTokenCount);
        Assert.Equal(1843, usage.AdditionalCounts![CanonicalKeys.CacheWriteTokens]);
        Assert.Equal(89, usage.OutputTokenCount);
        Assert.Equal(12 + 1843 + 20480 + 89, usage.TotalTokenCount);
    }

    [Fact]
    public void Decode_WithoutEventNames_UsesDataType()
    {
        var named = Decode(AnthropicFixtures.ThinkingTextToolStream).Updates;
        var (unnamed, decoder) = Decode(AnthropicFixtures.ThinkingTextToolStream, withEventNames: false);

        Assert.True(decoder.Completed);
        Assert.Equal(named.Count, unnamed.Count);
        Assert.Equal(named.Select(u => u.Contents.Count), unnamed.Select(u => u.Contents.Count));
    }

    [Fact]
    public void Decode_SeveralToolUseBlocks_IndexesByToolOrdinal()
    {
        var (updates, _) = Decode(Frames(
            Start,
            """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""",
            """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Reading."}}""",
            """{"type":"content_block_stop","index":0}""",
            """{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_a","name":"Read","input":{}}}""",
            """{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"file_path\":\"a\"}"}}""",
            """{"type":"content_block_stop","index":1}""",
            """{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_b","name":"Read","input":{}}}""",
            """{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"file_path\":\"b\"}"}}""",
            """{"type":"content_block_stop","index":2}""",
            """{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":30}}""",
            """{"type":"message_stop"}"""));

        var deltas = updates.SelectMany(u => u.Contents).OfType<ToolCallDeltaContent>().ToList();
        Assert.Equal([0, 0, 1, 1], deltas.Select(d => d.Index));
        Assert.Equal(["toolu_a", null, "toolu_b", null], deltas.Select(d => d.CallId));
    }

    [Fact]
    public void Decode_ToolInputWholeInStartBlock_EmitsItAtStop()
    {
        var (updates, _) = Decode(Frames(
            Start,
            """{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_a","name":"Glob","input":{"pattern":"*.cs"}}}""",
            """{"type":"content_block_stop","index":0}"""));

        var deltas = updates.SelectMany(u => u.Contents).OfType<ToolCallDeltaContent>().ToList();
        Assert.Equal(2, deltas.Count);
        Equal("""{"pattern":"*.cs"}""", deltas[1].ArgumentsDelta);
    }

    [Fact]
    public void Decode_RedactedThinking_MarksReasoningRedacted()
    {
        var (updates, _) = Decode(Frames(
            Start,
            """{"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix"}}""",
            """{"type":"content_block_stop","index":0}"""));

        var redacted = Assert.IsType<TextReasoningContent>(updates.SelectMany(u => u.Contents).Single(c => c is TextReasoningContent));
        Assert.Equal("EmwKAhgBEgy3va3pzix", redacted.ProtectedData);
        Assert.Equal(true, redacted.AdditionalProperties![CanonicalKeys.Redacted]);
    }

    [Fact]
    public void Decode_ServerToolUseWithStreamedInput_EmitsRawBlockWithInput()
    {
        var (updates, _) = Decode(Frames(
            Start,
            """{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}""",
            """{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"query\": \"weath"}}""",
            """{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"er\"}"}}""",
            """{"type":"content_block_stop","index":0}""",
            """{"type":"content_block_start","index":1,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]}}""",
            """{"type":"content_block_stop","index":1}"""));

        var raws = updates.SelectMany(u => u.Contents).OfType<AnthropicRawContent>().ToList();
        Assert.Equal(2, raws.Count);
        Equal("""{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"weather"}}""", raws[0].Block.GetRawText());
        Assert.Equal("web_search_tool_result", raws[1].BlockType);
        Assert.Empty(updates.SelectMany(u => u.Contents).OfType<ToolCallDeltaContent>());
    }

    [Fact]
    public void Decode_CitationsDelta_KeptOnEmptyText()
    {
        var (updates, _) = Decode(Frames(
            Start,
            """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"","citations":[]}}""",
            """{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{"type":"char_location","cited_text":"x","document_index":0,"start_char_index":0,"end_char_index":1}}}"""));

        var text = Assert.IsType<TextContent>(updates[^1].Contents.Single());
        Assert.Equal("", text.Text);
        Assert.True(text.AdditionalProperties!.ContainsKey("anthropic:citations_delta"));
    }

    [Fact]
    public void Decode_PingAndUnknownEvents_AreIgnored()
    {
        var decoder = AnthropicDialect.Instance.CreateStreamDecoder();
        var updates = new List<ChatResponseUpdate>();

        decoder.Decode("ping"u8, """{"type": "ping"}"""u8, updates);
        decoder.Decode("future_event"u8, """{"type":"future_event","x":1}"""u8, updates);
        decoder.Decode(""u8, """{"type":"another_future_event"}"""u8, updates);

        Assert.Empty(updates);
        Assert.False(decoder.Completed);
    }

    [Theory]
    [InlineData("overloaded_error", QlaudErrorKind.Unavailable)]
    [InlineData("rate_limit_error", QlaudErrorKind.RateLimited)]
    [InlineData("api_error", QlaudErrorKind.UpstreamError)]
    public void Decode_ErrorEvent_ThrowsWithKindAndMessage(string type, QlaudErrorKind kind)
    {
        var decoder = AnthropicDialect.Instance.CreateStreamDecoder();
        var updates = new List<ChatResponseUpdate>();
        decoder.Decode("message_start"u8, Utf8(Start), updates);

        var ex = Assert.Throws<DialectException>(() =>
            decoder.Decode("error"u8, Utf8($$$"""{"type":"error","error":{"type":"{{{type}}}","message":"Overloaded"}}"""), updates));

        Assert.Equal(kind, ex.Kind);
        Assert.Equal("Overloaded", ex.Message);
    }

    [Fact]
    public void Decode_MalformedJson_ThrowsUpstreamError()
    {
        var decoder = AnthropicDialect.Instance.CreateStreamDecoder();

        var ex = Assert.Throws<DialectException>(() => decoder.Decode("message_start"u8, "{\"type\":\"message_start\",\"message\":"u8, []));

        Assert.Equal(QlaudErrorKind.UpstreamError, ex.Kind);
    }

    [Fact]
    public void Decode_MessageDeltaWithStopSequence_KeepsValue()
    {
        var (updates, _) = Decode(Frames(
            Start,
            """{"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"END"},"usage":{"output_tokens":3}}"""));

        var last = updates[^1];
        Assert.Equal(ChatFinishReason.Stop, last.FinishReason);
        Assert.Equal("END", Assert.IsType<JsonElement>(last.AdditionalProperties!["anthropic:stop_sequence"]).GetString());
        Assert.Equal(3, Assert.IsType<UsageContent>(last.Contents.Single()).Details.OutputTokenCount);
    }
}
