using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Dialects.OpenAI;

namespace Qlaud.Core.Tests.Dialects.OpenAI;

public sealed class OpenAIStreamDecoderTests
{
    // Two parallel tool calls as OpenAI streams them with stream_options.include_usage.
    private const string ParallelToolCallStream = """
        data: {"id":"chatcmpl-BZ1x","object":"chat.completion.chunk","created":1747000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a1","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}

        data: {"id":"chatcmpl-BZ1x","object":"chat.completion.chunk","created":1747000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

        data: {"id":"chatcmpl-BZ1x","object":"chat.completion.chunk","created":1747000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\": \"Paris\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

        data: {"id":"chatcmpl-BZ1x","object":"chat.completion.chunk","created":1747000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b2","type":"function","function":{"name":"get_time","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}

        data: {"id":"chatcmpl-BZ1x","object":"chat.completion.chunk","created":1747000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"tz\": \"Europe/Paris\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

        data: {"id":"chatcmpl-BZ1x","object":"chat.completion.chunk","created":1747000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}

        data: {"id":"chatcmpl-BZ1x","object":"chat.completion.chunk","created":1747000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[],"usage":{"prompt_tokens":82,"completion_tokens":48,"total_tokens":130,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}

        data: [DONE]


        """;

    // DeepSeek reasoner: reasoning_content first, then content; usage rides on the finish chunk.
    private const string DeepSeekReasoningStream = """
        data: {"id":"5c1f0e3a","object":"chat.completion.chunk","created":1738000000,"model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08_prod0225","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":""},"logprobs":null,"finish_reason":null}]}

        data: {"id":"5c1f0e3a","object":"chat.completion.chunk","created":1738000000,"model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08_prod0225","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"Okay"},"logprobs":null,"finish_reason":null}]}

        data: {"id":"5c1f0e3a","object":"chat.completion.chunk","created":1738000000,"model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08_prod0225","choices":[{"index":0,"delta":{"content":null,"reasoning_content":", the user says hi."},"logprobs":null,"finish_reason":null}]}

        data: {"id":"5c1f0e3a","object":"chat.completion.chunk","created":1738000000,"model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08_prod0225","choices":[{"index":0,"delta":{"content":"Hello","reasoning_content":null},"logprobs":null,"finish_reason":null}]}

        data: {"id":"5c1f0e3a","object":"chat.completion.chunk","created":1738000000,"model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08_prod0225","choices":[{"index":0,"delta":{"content":"!","reasoning_content":null},"logprobs":null,"finish_reason":null}]}

        data: {"id":"5c1f0e3a","object":"chat.completion.chunk","created":1738000000,"model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08_prod0225","choices":[{"index":0,"delta":{"content":"","reasoning_content":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":30,"total_tokens":40,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":25},"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":10}}

        data: [DONE]


        """;

    [Fact]
    public void Decode_ParallelToolCallStream_EmitsIndexedFragmentsFinishAndUsage()
    {
        var decoder = new OpenAIStreamDecoder();

        var updates = SseStream.Decode(decoder, ParallelToolCallStream);

        Assert.True(decoder.Completed);
        var fragments = new List<ToolCallDeltaContent>();
        foreach (var update in updates)
        {
            Assert.Equal("chatcmpl-BZ1x", update.ResponseId);
            Assert.Equal("gpt-4o-2024-08-06", update.ModelId);
            Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1747000000), update.CreatedAt);
            Assert.Equal(ChatRole.Assistant, update.Role);
            fragments.AddRange(update.Contents.OfType<ToolCallDeltaContent>());
        }

        Assert.Collection(
            fragments,
            f => Assert.Equal((0, "call_a1", "get_weather", ""), (f.Index, f.CallId, f.Name, f.ArgumentsDelta)),
            f => Assert.Equal((0, null, null, "{\"ci"), (f.Index, f.CallId, f.Name, f.ArgumentsDelta)),
            f => Assert.Equal((0, null, null, "ty\": \"Paris\"}"), (f.Index, f.CallId, f.Name, f.ArgumentsDelta)),
            f => Assert.Equal((1, "call_b2", "get_time", ""), (f.Index, f.CallId, f.Name, f.ArgumentsDelta)),
            f => Assert.Equal((1, null, null, "{\"tz\": \"Europe/Paris\"}"), (f.Index, f.CallId, f.Name, f.ArgumentsDelta)));

        var finish = Assert.Single(updates, u => u.FinishReason is not null);
        Assert.Equal(ChatFinishReason.ToolCalls, finish.FinishReason);
        Assert.Equal("tool_calls", finish.AdditionalProperties?[CanonicalKeys.RawFinishReason]);

        var usage = Assert.IsType<UsageContent>(Assert.Single(updates[^1].Contents)).Details;
        Assert.Equal((82L, 48L, 130L, 0L, 0L), (usage.InputTokenCount, usage.OutputTokenCount, usage.TotalTokenCount, usage.CachedInputTokenCount, usage.ReasoningTokenCount));
    }

    [Fact]
    public void Decode_ParallelToolCallStream_FoldsIntoTwoWholeCalls()
    {
        var accumulator = new ToolCallAccumulator();
        var updates = SseStream.Decode(new OpenAIStreamDecoder(), ParallelToolCallStream);

        var calls = new List<FunctionCallContent>();
        foreach (var update in updates)
        {
            accumulator.Process(update);
            calls.AddRange(update.Contents.OfType<FunctionCallContent>());
        }

        Assert.Collection(
            calls,
            c => Assert.Equal(("call_a1", "get_weather", "Paris"), (c.CallId, c.Name, ((JsonElement)c.Arguments!["city"]!).GetString())),
            c => Assert.Equal(("call_b2", "get_time", "Europe/Paris"), (c.CallId, c.Name, ((JsonElement)c.Arguments!["tz"]!).GetString())));
    }

    [Fact]
    public void Decode_ChunkWithTextAndToolCall_KeepsBothAndTheName()
    {
        var updates = Decode("""{"id":"x","model":"m","choices":[{"index":0,"delta":{"content":"Let me check.","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":"}}]}}]}""");

        var update = Assert.Single(updates);
        Assert.Equal("Let me check.", Assert.IsType<TextContent>(update.Contents[0]).Text);
        var call = Assert.IsType<ToolCallDeltaContent>(update.Contents[1]);
        Assert.Equal((0, "call_1", "lookup", "{\"q\":"), (call.Index, call.CallId, call.Name, call.ArgumentsDelta));
    }

    [Fact]
    public void Decode_DeepSeekReasoningStream_EmitsReasoningThenTextThenUsage()
    {
        var decoder = new OpenAIStreamDecoder();
        var updates = SseStream.Decode(decoder, DeepSeekReasoningStream);

        Assert.True(decoder.Completed);
        var response = updates.ToChatResponse();
        var message = Assert.Single(response.Messages);
        Assert.Equal("Okay, the user says hi.", Assert.IsType<TextReasoningContent>(message.Contents[0]).Text);
        Assert.Equal("Hello!", message.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(25, response.Usage?.ReasoningTokenCount);
        Assert.Equal(10, response.Usage?.AdditionalCounts?["openai:prompt_cache_miss_tokens"]);

        var finish = Assert.Single(updates, u => u.FinishReason is not null);
        Assert.IsType<UsageContent>(Assert.Single(finish.Contents));
    }

    [Fact]
    public void Decode_OpenRouterReasoningField_BecomesReasoningContent()
    {
        var update = Assert.Single(Decode("""{"id":"gen-1","model":"m","choices":[{"index":0,"delta":{"content":"","reasoning":"Thinking about it"}}]}"""));

        Assert.Equal("Thinking about it", Assert.IsType<TextReasoningContent>(Assert.Single(update.Contents)).Text);
    }

    [Fact]
    public void Decode_ChunksWithoutRoleOrId_StillDecode()
    {
        var updates = Decode("""{"choices":[{"delta":{"content":"a"}}]}""", """{"choices":[{"delta":{},"finish_reason":"length"}]}""");

        Assert.Equal("a", Assert.IsType<TextContent>(Assert.Single(updates[0].Contents)).Text);
        Assert.Equal(ChatFinishReason.Length, updates[1].FinishReason);
    }

    [Fact]
    public void Decode_EmptyRoleChunk_EmitsNothing()
    {
        Assert.Empty(Decode("""{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}"""));
    }

    [Fact]
    public void Decode_HostNumberingEveryCallZero_GivesEachCallItsOwnIndex()
    {
        var updates = Decode(
            """{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{}"}}]}}]}""",
            """{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}""",
            """{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":""}}]}}]}""");

        var fragments = updates.SelectMany(u => u.Contents).OfType<ToolCallDeltaContent>().ToList();
        Assert.Equal(2, fragments.Count);
        Assert.Equal((0, "a", "f"), (fragments[0].Index, fragments[0].CallId, fragments[0].Name));
        Assert.Equal((1, "b", "g"), (fragments[1].Index, fragments[1].CallId, fragments[1].Name));
    }

    [Fact]
    public void Decode_ErrorChunk_ThrowsUpstreamError()
    {
        var ex = Assert.Throws<DialectException>(() => Decode("""{"id":"gen-1","object":"chat.completion.chunk","error":{"code":502,"message":"Provider returned error"},"choices":[]}"""));

        Assert.Equal(QlaudErrorKind.UpstreamError, ex.Kind);
        Assert.Contains("(502): Provider returned error", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_ErrorEvent_ThrowsUpstreamError()
    {
        var decoder = new OpenAIStreamDecoder();
        var ex = Assert.Throws<DialectException>(() => decoder.Decode("error"u8, """{"error":{"message":"boom"}}"""u8, []));

        Assert.Equal(QlaudErrorKind.UpstreamError, ex.Kind);
    }

    [Fact]
    public void Decode_MalformedChunk_ThrowsUpstreamError()
    {
        Assert.Equal(QlaudErrorKind.UpstreamError, Assert.Throws<DialectException>(() => Decode("{\"choices\":[")).Kind);
    }

    [Fact]
    public void Decode_GroqUsageInXGroq_BecomesUsage()
    {
        var update = Assert.Single(Decode("""{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"req_1","usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}}"""));

        Assert.Equal(12, Assert.IsType<UsageContent>(Assert.Single(update.Contents)).Details.TotalTokenCount);
    }

    private static List<ChatResponseUpdate> Decode(params string[] chunks)
    {
        var decoder = new OpenAIStreamDecoder();
        var updates = new List<ChatResponseUpdate>();
        foreach (var chunk in chunks)
        {
            decoder.Decode([], Encoding.UTF8.GetBytes(chunk), updates);
        }

        return updates;
    }
}
