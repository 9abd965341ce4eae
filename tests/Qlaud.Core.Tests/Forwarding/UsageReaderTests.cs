using Qlaud.Forwarding;
using Qlaud.Metering;

namespace Qlaud.Core.Tests.Forwarding;

public sealed class UsageReaderTests
{
    [Fact]
    public void FromResponseBody_OpenAIWithDetails_ReadsAllCounts()
    {
        var usage = UsageReader.FromResponseBody("""
            {"id":"x","choices":[{"message":{"content":"usage"}}],"usage":{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,
             "prompt_tokens_details":{"cached_tokens":60,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":25}}}
            """u8, anthropic: false);
        Assert.Equal(new TokenUsage(100, 40, 60, 0, 25), usage);
    }

    [Fact]
    public void FromResponseBody_DeepSeekCacheHit_CountsAsCacheRead()
        => Assert.Equal(new TokenUsage(10, 2, 8), UsageReader.FromResponseBody("""{"usage":{"prompt_tokens":10,"completion_tokens":2,"prompt_cache_hit_tokens":8}}"""u8, false));

    [Fact]
    public void FromResponseBody_Anthropic_AddsCacheTokensToInput()
    {
        var usage = UsageReader.FromResponseBody("""
            {"type":"message","content":[],"usage":{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000}}
            """u8, anthropic: true);
        Assert.Equal(new TokenUsage(1110, 5, 1000, 100), usage);
    }

    [Fact]
    public void FromResponseBody_NoUsage_Null()
        => Assert.Null(UsageReader.FromResponseBody("{\"a\":1}"u8, false));

    [Fact]
    public void AnthropicInspector_StartThenDelta_MergesUsage()
    {
        var inspector = new AnthropicPassthroughInspector();
        Assert.True(inspector.OnEvent("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":20,\"output_tokens\":1,\"cache_read_input_tokens\":5}}}\n\n"u8));
        Assert.True(inspector.OnEvent("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":42}}\n\n"u8));
        Assert.False(inspector.Completed);
        inspector.OnEvent("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"u8);
        Assert.True(inspector.Completed);
        Assert.Equal(new TokenUsage(25, 42, 5), inspector.Usage);
    }

    [Fact]
    public void OpenAIInspector_HidesUsageOnlyChunk_WhenClientDidNotAsk()
    {
        var inspector = new OpenAIPassthroughInspector(hideUsageChunk: true);
        Assert.True(inspector.OnEvent("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"the usage\"}}],\"usage\":null}\n\n"u8));
        Assert.False(inspector.OnEvent("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n"u8));
        Assert.True(inspector.OnEvent("data: [DONE]\n\n"u8));
        Assert.True(inspector.Completed);
        Assert.Equal(new TokenUsage(3, 4), inspector.Usage);
    }

    [Fact]
    public void OpenAIInspector_UsageInContentChunk_NeverHidden()
    {
        var inspector = new OpenAIPassthroughInspector(hideUsageChunk: true);
        Assert.True(inspector.OnEvent("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n"u8));
        Assert.Equal(new TokenUsage(3, 4), inspector.Usage);
    }

    [Fact]
    public void OpenAIInspector_ErrorChunk_Recorded()
    {
        var inspector = new OpenAIPassthroughInspector(hideUsageChunk: false);
        Assert.True(inspector.OnEvent("data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n"u8));
        Assert.Equal("overloaded", inspector.UpstreamError);
    }
}

public sealed class OpenAIPassthroughInspectorTests
{
    [Theory]
    [InlineData("""{"choices":[],"usage":{"prompt_tokens":1}}""", true)]
    [InlineData("""{"choices":[],"usage" : { "prompt_tokens":1}}""", true)]
    [InlineData("""{"choices":[{"delta":{"content":"x"}}],"usage":null}""", false)]
    [InlineData("""{"choices":[{"delta":{"content":"the \"usage\": word"}}],"usage":null}""", false)]
    [InlineData("""{"choices":[{"delta":{"content":"usage"}}]}""", false)]
    public void HasUsageObject_OnlyAUsageObjectCounts(string chunk, bool expected)
        => Assert.Equal(expected, OpenAIPassthroughInspector.HasUsageObject(System.Text.Encoding.UTF8.GetBytes(chunk)));
}
