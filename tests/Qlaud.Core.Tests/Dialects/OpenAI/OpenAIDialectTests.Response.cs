using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Dialects.OpenAI;

namespace Qlaud.Core.Tests.Dialects.OpenAI;

public sealed partial class OpenAIDialectTests
{
    private const string ToolCallCompletion = """
        {
          "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
          "object": "chat.completion",
          "created": 1741569952,
          "model": "gpt-4o-2024-08-06",
          "choices": [{
            "index": 0,
            "message": {
              "role": "assistant",
              "content": null,
              "refusal": null,
              "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\":\"Europe/Paris\"}"}}
              ],
              "annotations": []
            },
            "logprobs": null,
            "finish_reason": "tool_calls"
          }],
          "usage": {
            "prompt_tokens": 82,
            "completion_tokens": 48,
            "total_tokens": 130,
            "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 12, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
          },
          "service_tier": "default",
          "system_fingerprint": "fp_fc9f1d7035"
        }
        """;

    private static ChatResponse ReadResponse(string json) => Dialect.ReadResponse(Encoding.UTF8.GetBytes(json));

    private static string WriteResponse(ChatResponse response, string model = "gpt-4o-2024-08-06", OpenAIDialect? dialect = null) =>
        JsonAssert.Write(writer => (dialect ?? Dialect).WriteResponse(writer, response, model));

    [Fact]
    public void ReadResponse_ToolCallCompletion_MapsToCanonical()
    {
        var response = ReadResponse(ToolCallCompletion);

        Assert.Equal("chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", response.ResponseId);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1741569952), response.CreatedAt);
        Assert.Equal("gpt-4o-2024-08-06", response.ModelId);
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.Equal("tool_calls", response.AdditionalProperties?[CanonicalKeys.RawFinishReason]);
        Assert.Equal("fp_fc9f1d7035", Assert.IsType<JsonElement>(response.AdditionalProperties?["openai:system_fingerprint"]).GetString());
        Assert.Equal("default", Assert.IsType<JsonElement>(response.AdditionalProperties?["openai:service_tier"]).GetString());

        var message = Assert.Single(response.Messages);
        Assert.Equal(ChatRole.Assistant, message.Role);
        Assert.Collection(
            message.Contents,
            c => Assert.Equal(("call_a", "get_weather"), (((FunctionCallContent)c).CallId, ((FunctionCallContent)c).Name)),
            c => Assert.Equal("Europe/Paris", ((JsonElement)((FunctionCallContent)c).Arguments!["tz"]!).GetString()));

        var usage = response.Usage!;
        Assert.Equal((82L, 48L, 130L), (usage.InputTokenCount, usage.OutputTokenCount, usage.TotalTokenCount));
        Assert.Equal(64, usage.CachedInputTokenCount);
        Assert.Equal(12, usage.ReasoningTokenCount);
        Assert.Equal(0, usage.AdditionalCounts?["openai:prompt_tokens_details.audio_tokens"]);
        Assert.Equal(0, usage.AdditionalCounts?["openai:completion_tokens_details.accepted_prediction_tokens"]);
    }

    [Fact]
    public void WriteResponse_DecodedCompletion_RoundTrips()
    {
        var written = WriteResponse(ReadResponse(ToolCallCompletion));

        JsonAssert.Equal(ToolCallCompletion, written);
    }

    [Fact]
    public void ReadResponse_DeepSeekReasoningAndRefusal_MapToContents()
    {
        var response = ReadResponse("""
            {"id":"r1","object":"chat.completion","created":1738000000,"model":"deepseek-reasoner",
             "choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning_content":"2 plus 2.","refusal":"I won't say 5."},
               "logprobs":null,"finish_reason":"stop"}],
             "usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30,"prompt_cache_hit_tokens":8,"prompt_cache_miss_tokens":2,
               "completion_tokens_details":{"reasoning_tokens":15}}}
            """);

        var message = Assert.Single(response.Messages);
        Assert.Equal("2 plus 2.", Assert.IsType<TextReasoningContent>(message.Contents[0]).Text);
        Assert.Equal("4", Assert.IsType<TextContent>(message.Contents[1]).Text);
        var refusal = Assert.IsType<TextContent>(message.Contents[2]);
        Assert.Equal(true, refusal.AdditionalProperties?[OpenAIDialect.RefusalKey]);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(8, response.Usage?.CachedInputTokenCount);
        Assert.Equal(2, response.Usage?.AdditionalCounts?["openai:prompt_cache_miss_tokens"]);

        JsonAssert.Equal(
            """
            {"id":"r1","object":"chat.completion","created":1738000000,"model":"deepseek-reasoner",
             "choices":[{"index":0,"message":{"role":"assistant","content":"4","refusal":"I won't say 5.","reasoning_content":"2 plus 2."},
               "logprobs":null,"finish_reason":"stop"}],
             "usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30,"prompt_cache_hit_tokens":8,"prompt_cache_miss_tokens":2,
               "prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":15}}}
            """,
            WriteResponse(response, "deepseek-reasoner"));
    }

    [Fact]
    public void ReadResponse_OpenRouterCacheWriteTokens_MapToCanonicalKey()
    {
        var response = ReadResponse("""
            {"id":"gen-1","object":"chat.completion","created":1,"model":"anthropic/claude-sonnet-4",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":194,"completion_tokens":2,"total_tokens":196,"cost":0.95,
               "prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":100}}}
            """);

        Assert.Equal(100, response.Usage?.AdditionalCounts?[CanonicalKeys.CacheWriteTokens]);
        Assert.False(response.Usage?.AdditionalCounts?.ContainsKey("openai:cost"));
    }

    [Fact]
    public void WriteResponse_CacheWriteTokens_WrittenOnlyWhenPresent()
    {
        var usage = new UsageDetails { InputTokenCount = 10, OutputTokenCount = 5, CachedInputTokenCount = 4 };
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")) { ResponseId = "id", CreatedAt = DateTimeOffset.FromUnixTimeSeconds(5), Usage = usage };

        var without = JsonAssert.Parse(WriteResponse(response)).GetProperty("usage");
        usage.AdditionalCounts = new() { [CanonicalKeys.CacheWriteTokens] = 3 };
        var with = JsonAssert.Parse(WriteResponse(response)).GetProperty("usage");

        JsonAssert.Equal(
            """{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":0}}""",
            without.GetRawText());
        Assert.Equal(3, with.GetProperty("prompt_tokens_details").GetProperty("cache_write_tokens").GetInt32());
    }

    [Fact]
    public void WriteResponse_AfterInProcessToolLoop_WritesOnlyTheFinalAnswer()
    {
        var clock = new FixedTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1700000000));
        var response = new ChatResponse(
        [
            new ChatMessage(ChatRole.Assistant, [new TextContent("Checking."), new FunctionCallContent("c1", "lookup")]),
            new ChatMessage(ChatRole.Tool, [new FunctionResultContent("c1", "42")]),
            new ChatMessage(ChatRole.Assistant, "The answer is 42."),
        ])
        { ResponseId = "chatcmpl-1", FinishReason = ChatFinishReason.Stop };

        JsonAssert.Equal(
            """
            {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m",
             "choices":[{"index":0,"message":{"role":"assistant","content":"The answer is 42.","refusal":null},"logprobs":null,"finish_reason":"stop"}]}
            """,
            WriteResponse(response, "m", new OpenAIDialect(timeProvider: clock)));
    }

    [Fact]
    public void WriteResponse_ForeignFinishReasonAndReasoning_UsesOpenAIShapes()
    {
        // As the Anthropic codec would hand it over: thinking with a signature, a raw stop reason of its own.
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, [new TextReasoningContent("Think.") { ProtectedData = "sig" }, new TextContent("Done.")]))
        {
            ResponseId = "msg_1",
            CreatedAt = DateTimeOffset.FromUnixTimeSeconds(9),
            FinishReason = ChatFinishReason.Length,
            AdditionalProperties = new() { [CanonicalKeys.RawFinishReason] = "max_tokens", ["anthropic:stop_sequence"] = null },
        };

        JsonAssert.Equal(
            """
            {"id":"msg_1","object":"chat.completion","created":9,"model":"m",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Done.","refusal":null,"reasoning_content":"Think."},"logprobs":null,"finish_reason":"length"}]}
            """,
            WriteResponse(response, "m"));
    }

    [Fact]
    public void ReadResponse_ErrorBody_ThrowsUpstreamError()
    {
        var ex = Assert.Throws<DialectException>(() => ReadResponse("""{"error":{"message":"Overloaded","type":"server_error","code":"overloaded"}}"""));

        Assert.Equal(QlaudErrorKind.UpstreamError, ex.Kind);
        Assert.Contains("(overloaded): Overloaded", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadResponse_MalformedBody_ThrowsUpstreamError()
    {
        Assert.Equal(QlaudErrorKind.UpstreamError, Assert.Throws<DialectException>(() => ReadResponse("not json")).Kind);
        Assert.Equal(
            QlaudErrorKind.UpstreamError,
            Assert.Throws<DialectException>(() => ReadResponse("""{"choices":[{"index":0,"message":{"content":7}}]}""")).Kind);
    }
}
