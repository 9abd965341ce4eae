using System.Buffers;
using System.Text;
using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Dialects.OpenAI;

namespace Qlaud.Core.Tests.Dialects.OpenAI;

public sealed class OpenAIStreamEncoderTests
{
    private static readonly FixedTimeProvider Clock = new(DateTimeOffset.FromUnixTimeSeconds(1700000000));

    [Fact]
    public void Encode_TextStream_WritesOpenAIChunksWithStableHeader()
    {
        var encoder = Create(includeUsage: false);
        var output = new ArrayBufferWriter<byte>();

        encoder.Encode(new ChatResponseUpdate(ChatRole.Assistant, "Hel"), output);
        encoder.Encode(new ChatResponseUpdate(ChatRole.Assistant, "lo"), output);
        encoder.Encode(new ChatResponseUpdate { FinishReason = ChatFinishReason.Stop }, output);
        encoder.Complete(output);

        Assert.Equal(
            """
            data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"logprobs":null,"finish_reason":null}]}

            data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"lo"},"logprobs":null,"finish_reason":null}]}

            data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

            data: [DONE]


            """.Replace("\r\n", "\n", StringComparison.Ordinal),
            Text(output));
    }

    [Fact]
    public void Encode_ToolCallFragments_FirstCarriesIdTypeAndNameLaterOnlyArguments()
    {
        var encoder = Create(includeUsage: false);
        var output = new ArrayBufferWriter<byte>();

        encoder.Encode(Update(new ToolCallDeltaContent { Index = 0, CallId = "call_1", Name = "get_weather" }), output);
        encoder.Encode(Update(new ToolCallDeltaContent { Index = 0, ArgumentsDelta = "{\"city\":" }), output);

        var events = SseStream.Events(Text(output));
        JsonAssert.Equal(
            """[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]""",
            JsonAssert.Parse(events[0].Data).GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls").GetRawText());
        JsonAssert.Equal(
            """[{"index":0,"function":{"arguments":"{\"city\":"}}]""",
            JsonAssert.Parse(events[1].Data).GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls").GetRawText());
    }

    [Fact]
    public void Complete_WithIncludeUsage_WritesUsageChunkBeforeDone()
    {
        var encoder = Create(includeUsage: true);
        var output = new ArrayBufferWriter<byte>();

        encoder.Encode(new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = 9, OutputTokenCount = 1 })]), output);
        encoder.Encode(new ChatResponseUpdate { FinishReason = ChatFinishReason.Stop }, output);
        encoder.Complete(output);

        var events = SseStream.Events(Text(output));
        Assert.Equal(3, events.Count);
        JsonAssert.Equal(
            """
            {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[],
             "usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}
            """,
            events[1].Data);
        Assert.Equal("[DONE]", events[2].Data);
    }

    [Fact]
    public void Complete_WithoutIncludeUsage_WritesNoUsageChunk()
    {
        var encoder = Create(includeUsage: false);
        var output = new ArrayBufferWriter<byte>();

        encoder.Encode(new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = 9 })]), output);
        encoder.Complete(output);

        Assert.Equal("data: [DONE]\n\n", Text(output));
    }

    [Fact]
    public void Fail_MidStream_WritesErrorEventThenNothingMore()
    {
        var encoder = Create(includeUsage: true);
        var output = new ArrayBufferWriter<byte>();
        encoder.Encode(new ChatResponseUpdate(ChatRole.Assistant, "partial"), output);
        var before = output.WrittenCount;

        encoder.Fail(new QlaudError(QlaudErrorKind.UpstreamError, "Upstream closed the connection.", "upstream_error"), output);
        encoder.Encode(new ChatResponseUpdate(ChatRole.Assistant, "more"), output);
        encoder.Complete(output);

        Assert.Equal(
            "data: {\"error\":{\"message\":\"Upstream closed the connection.\",\"type\":\"server_error\",\"param\":null,\"code\":\"upstream_error\"}}\n\n",
            Encoding.UTF8.GetString(output.WrittenSpan[before..]));
    }

    [Fact]
    public void Encode_NonAsciiText_IsWrittenUnescaped()
    {
        var encoder = Create(includeUsage: false);
        var output = new ArrayBufferWriter<byte>();

        encoder.Encode(new ChatResponseUpdate(ChatRole.Assistant, "Ça va <bien> & 😀"), output);

        // Characters outside the BMP stay escaped (\uD83D\uDE00): even the relaxed encoder escapes surrogate pairs.
        Assert.Contains("\"content\":\"Ça va <bien> & \\uD83D\\uDE00\"", Text(output), StringComparison.Ordinal);
        var decoded = SseStream.Decode(new OpenAIStreamDecoder(), Text(output));
        Assert.Equal("Ça va <bien> & 😀", Assert.Single(decoded).Text);
    }

    [Fact]
    public void Encode_OutputParsedByDecoder_EqualsInput()
    {
        ChatResponseUpdate[] input =
        [
            new(ChatRole.Assistant, [new TextReasoningContent("Let me think.")]),
            new(ChatRole.Assistant, [new TextContent("Checking the weather.")]),
            new(ChatRole.Assistant, [new TextContent("Also the time."), new ToolCallDeltaContent { Index = 0, CallId = "call_a", Name = "get_weather", ArgumentsDelta = "{\"city\":" }]),
            new(ChatRole.Assistant, [new ToolCallDeltaContent { Index = 1, CallId = "call_b", Name = "get_time" }]),
            new(ChatRole.Assistant, [new ToolCallDeltaContent { Index = 0, ArgumentsDelta = "\"Paris\"}" }, new ToolCallDeltaContent { Index = 1, ArgumentsDelta = "{}" }]),
            new(ChatRole.Assistant, [new TextContent("I can't do that.") { AdditionalProperties = new() { [OpenAIDialect.RefusalKey] = true } }]),
            new() { FinishReason = ChatFinishReason.ToolCalls },
            new(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = 20, OutputTokenCount = 10, TotalTokenCount = 30, CachedInputTokenCount = 5, ReasoningTokenCount = 3 })]),
        ];
        var encoder = Create(includeUsage: true);
        var output = new ArrayBufferWriter<byte>();
        foreach (var update in input)
        {
            encoder.Encode(update, output);
        }

        encoder.Complete(output);
        var decoder = new OpenAIStreamDecoder();
        var decoded = SseStream.Decode(decoder, Text(output));

        Assert.True(decoder.Completed);
        Assert.Equal(input.Length, decoded.Count);
        for (var i = 0; i < input.Length; i++)
        {
            Assert.Equal("chatcmpl-1", decoded[i].ResponseId);
            Assert.Equal("gpt-4o", decoded[i].ModelId);
            Assert.Equal(input[i].FinishReason, decoded[i].FinishReason);
            Assert.Equal(Describe(input[i].Contents), Describe(decoded[i].Contents));
        }
    }

    [Fact]
    public void Encode_WholeFunctionCalls_GetFreshIndexes()
    {
        var encoder = Create(includeUsage: false);
        var output = new ArrayBufferWriter<byte>();

        encoder.Encode(Update(new FunctionCallContent("c1", "a", new Dictionary<string, object?> { ["x"] = 1 }), new FunctionCallContent("c2", "b")), output);

        JsonAssert.Equal(
            """
            [{"index":0,"id":"c1","type":"function","function":{"name":"a","arguments":"{\"x\":1}"}},
             {"index":1,"id":"c2","type":"function","function":{"name":"b","arguments":"{}"}}]
            """,
            JsonAssert.Parse(SseStream.Events(Text(output))[0].Data).GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls").GetRawText());
    }

    private static OpenAIStreamEncoder Create(bool includeUsage) =>
        new OpenAIDialect(timeProvider: Clock).CreateStreamEncoder("gpt-4o", "chatcmpl-1", includeUsage);

    private static ChatResponseUpdate Update(params AIContent[] contents) => new(ChatRole.Assistant, contents);

    private static string Text(ArrayBufferWriter<byte> output) => Encoding.UTF8.GetString(output.WrittenSpan);

    private static string Describe(IList<AIContent> contents)
    {
        var text = new StringBuilder();
        foreach (var content in contents)
        {
            text.Append(content switch
            {
                TextReasoningContent r => $"reasoning({r.Text})",
                TextContent t when t.AdditionalProperties?.ContainsKey(OpenAIDialect.RefusalKey) is true => $"refusal({t.Text})",
                TextContent t => $"text({t.Text})",
                ToolCallDeltaContent d => $"call({d.Index},{d.CallId},{d.Name},{d.ArgumentsDelta})",
                UsageContent u => $"usage({u.Details.InputTokenCount},{u.Details.OutputTokenCount},{u.Details.TotalTokenCount},{u.Details.CachedInputTokenCount},{u.Details.ReasoningTokenCount})",
                _ => content.GetType().Name,
            }).Append(';');
        }

        return text.ToString();
    }
}
