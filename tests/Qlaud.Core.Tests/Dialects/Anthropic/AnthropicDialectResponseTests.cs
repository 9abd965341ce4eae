using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;
using static Qlaud.Core.Tests.Dialects.Anthropic.AnthropicTestJson;

namespace Qlaud.Core.Tests.Dialects.Anthropic;

public sealed class AnthropicDialectResponseTests
{
    private static readonly AnthropicDialect s_dialect = AnthropicDialect.Instance;

    private const string ToolUseResponse = """
    {
      "id": "msg_01Aq9w938a90dw8q",
      "type": "message",
      "role": "assistant",
      "model": "claude-sonnet-4-5-20250929",
      "content": [
        { "type": "thinking", "thinking": "I need the weather tool.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA" },
        { "type": "text", "text": "Let me look that up." },
        { "type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": { "location": "San Francisco, CA", "unit": "celsius" }, "caller": { "type": "direct" } }
      ],
      "stop_reason": "tool_use",
      "stop_sequence": null,
      "usage": {
        "input_tokens": 50,
        "cache_creation_input_tokens": 150,
        "cache_read_input_tokens": 1000,
        "cache_creation": { "ephemeral_5m_input_tokens": 150, "ephemeral_1h_input_tokens": 0 },
        "output_tokens": 80,
        "service_tier": "standard"
      }
    }
    """;

    private static ChatResponse Read(string json) => s_dialect.ReadResponse(Utf8(json));

    private static string WriteResponse(ChatResponse response, string model = "claude-sonnet-4-5-20250929") =>
        Write(w => s_dialect.WriteResponse(w, response, model));

    [Fact]
    public void ReadResponse_ToolUseMessage_MapsContentFinishReasonAndUsage()
    {
        var response = Read(ToolUseResponse);

        Assert.Equal("msg_01Aq9w938a90dw8q", response.ResponseId);
        Assert.Equal("claude-sonnet-4-5-20250929", response.ModelId);
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.Equal("tool_use", response.AdditionalProperties![CanonicalKeys.RawFinishReason]);
        var message = Assert.Single(response.Messages);
        Assert.Equal(ChatRole.Assistant, message.Role);
        Assert.Equal("msg_01Aq9w938a90dw8q", message.MessageId);
        var thinking = Assert.IsType<TextReasoningContent>(message.Contents[0]);
        Assert.Equal("EqQBCgIYAhIM1gbcDa9GJwZA", thinking.ProtectedData);
        Assert.Equal("Let me look that up.", Assert.IsType<TextContent>(message.Contents[1]).Text);
        var call = Assert.IsType<FunctionCallContent>(message.Contents[2]);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("celsius", ((JsonElement)call.Arguments!["unit"]!).GetString());

        var usage = response.Usage!;
        Assert.Equal(50 + 150 + 1000, usage.InputTokenCount);
        Assert.Equal(1000, usage.CachedInputTokenCount);
        Assert.Equal(150, usage.AdditionalCounts![CanonicalKeys.CacheWriteTokens]);
        Assert.Equal(80, usage.OutputTokenCount);
        Assert.Equal(1200 + 80, usage.TotalTokenCount);
    }

    [Fact]
    public void ReadResponse_WriteResponse_RoundTripsToEquivalentJson()
    {
        Equal(ToolUseResponse, WriteResponse(Read(ToolUseResponse)));
    }

    [Fact]
    public void WriteResponse_CanonicalUsage_SubtractsCacheReadsAndWritesFromInput()
    {
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi"))
        {
            ResponseId = "chatcmpl-9",
            FinishReason = ChatFinishReason.Stop,
            Usage = new UsageDetails
            {
                InputTokenCount = 1200,
                CachedInputTokenCount = 1000,
                OutputTokenCount = 80,
                AdditionalCounts = new() { [CanonicalKeys.CacheWriteTokens] = 150 },
            },
        };

        Equal("""
        {
          "id": "msg_chatcmpl-9", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
          "content": [ { "type": "text", "text": "hi" } ],
          "stop_reason": "end_turn", "stop_sequence": null,
          "usage": { "input_tokens": 50, "cache_creation_input_tokens": 150, "cache_read_input_tokens": 1000, "output_tokens": 80 }
        }
        """, WriteResponse(response));
    }

    [Theory]
    [InlineData("end_turn", "stop")]
    [InlineData("stop_sequence", "stop")]
    [InlineData("pause_turn", "stop")]
    [InlineData("max_tokens", "length")]
    [InlineData("model_context_window_exceeded", "length")]
    [InlineData("tool_use", "tool_calls")]
    [InlineData("refusal", "content_filter")]
    [InlineData("some_new_reason", "some_new_reason")]
    public void ReadResponse_StopReason_MapsToFinishReasonAndKeepsRaw(string stopReason, string finishReason)
    {
        var response = Read($$$"""{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":"{{{stopReason}}}","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}""");

        Assert.Equal(finishReason, response.FinishReason?.Value);
        Assert.Equal(stopReason, response.AdditionalProperties![CanonicalKeys.RawFinishReason]);
        Assert.Equal(stopReason is "some_new_reason" ? "end_turn" : stopReason, Parse(WriteResponse(response)).GetProperty("stop_reason").GetString());
    }

    [Theory]
    [InlineData("stop", "end_turn")]
    [InlineData("length", "max_tokens")]
    [InlineData("tool_calls", "tool_use")]
    [InlineData("content_filter", "refusal")]
    public void WriteResponse_OpenAIFinishReason_MapsToStopReason(string finishReason, string stopReason)
    {
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, "x"))
        {
            FinishReason = new ChatFinishReason(finishReason),
            AdditionalProperties = new() { [CanonicalKeys.RawFinishReason] = finishReason },
        };

        Assert.Equal(stopReason, Parse(WriteResponse(response)).GetProperty("stop_reason").GetString());
    }

    [Fact]
    public void WriteResponse_StopWithToolCalls_ReportsToolUse()
    {
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("call_1", "ls", null)]))
        {
            FinishReason = ChatFinishReason.Stop,
        };

        var root = Parse(WriteResponse(response));

        Assert.Equal("tool_use", root.GetProperty("stop_reason").GetString());
        Equal("""[{"type":"tool_use","id":"call_1","name":"ls","input":{},"caller":{"type":"direct"}}]""", root.GetProperty("content").GetRawText());
    }

    [Fact]
    public void ReadResponse_StopSequence_KeptAndWrittenBack()
    {
        var response = Read("""{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"1, 2, 3"}],"stop_reason":"stop_sequence","stop_sequence":"4","usage":{"input_tokens":3,"output_tokens":7}}""");

        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        var root = Parse(WriteResponse(response));
        Assert.Equal("stop_sequence", root.GetProperty("stop_reason").GetString());
        Assert.Equal("4", root.GetProperty("stop_sequence").GetString());
    }

    [Fact]
    public void WriteResponse_UnsignedReasoning_ShownAsThinkingWithEmptySignature()
    {
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant,
            [new TextReasoningContent("DeepSeek thought"), new TextContent(""), new TextContent("Answer")]))
        {
            ResponseId = "msg_x",
            FinishReason = ChatFinishReason.Stop,
        };

        Equal("""
        [{"type":"thinking","thinking":"DeepSeek thought","signature":""},{"type":"text","text":"Answer"}]
        """, Parse(WriteResponse(response)).GetProperty("content").GetRawText());
    }

    [Fact]
    public void WriteResponse_NoUsage_WritesZeroCounts()
    {
        var root = Parse(WriteResponse(new ChatResponse(new ChatMessage(ChatRole.Assistant, "x"))));

        Equal("""{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}""", root.GetProperty("usage").GetRawText());
        Assert.StartsWith("msg_", root.GetProperty("id").GetString());
        Assert.Equal("end_turn", root.GetProperty("stop_reason").GetString());
    }

    [Fact]
    public void ReadResponse_ServerToolBlocksAndUnknownFields_RoundTrip()
    {
        const string json = """
        {
          "id": "msg_2", "type": "message", "role": "assistant", "model": "claude-opus-4-6",
          "content": [
            { "type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": { "query": "weather" } },
            { "type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [ { "type": "web_search_result", "url": "https://news.invalid/a", "title": "A", "encrypted_content": "Eq..", "page_age": null } ] },
            { "type": "text", "text": "It is sunny.", "citations": [ { "type": "web_search_result_location", "url": "https://news.invalid/a", "title": "A", "encrypted_index": "Eo..", "cited_text": "sunny" } ] }
          ],
          "stop_reason": "pause_turn", "stop_sequence": null,
          "container": { "id": "container_1", "expires_at": "2026-01-01T00:00:00Z" },
          "usage": { "input_tokens": 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 5, "server_tool_use": { "web_search_requests": 1 } }
        }
        """;

        var response = Read(json);

        Assert.IsType<AnthropicRawContent>(response.Messages[0].Contents[0]);
        Assert.IsType<AnthropicRawContent>(response.Messages[0].Contents[1]);
        Assert.True(response.Messages[0].Contents[2].AdditionalProperties!.ContainsKey("anthropic:citations"));
        Assert.True(response.AdditionalProperties!.ContainsKey("anthropic:container"));
        Equal(json, WriteResponse(response, "claude-opus-4-6"));
    }

    [Theory]
    [InlineData("overloaded_error", QlaudErrorKind.Unavailable)]
    [InlineData("rate_limit_error", QlaudErrorKind.RateLimited)]
    [InlineData("api_error", QlaudErrorKind.UpstreamError)]
    [InlineData("authentication_error", QlaudErrorKind.UpstreamError)]
    [InlineData("billing_error", QlaudErrorKind.UpstreamError)]
    [InlineData("invalid_request_error", QlaudErrorKind.InvalidRequest)]
    [InlineData("not_found_error", QlaudErrorKind.NotFound)]
    [InlineData("timeout_error", QlaudErrorKind.Timeout)]
    public void ReadResponse_ErrorEnvelope_ThrowsWithMappedKind(string type, QlaudErrorKind kind)
    {
        var ex = Assert.Throws<DialectException>(() => Read($$$"""{"type":"error","error":{"type":"{{{type}}}","message":"Something went wrong"},"request_id":"req_1"}"""));

        Assert.Equal(kind, ex.Kind);
        Assert.Equal("Something went wrong", ex.Message);
    }

    [Fact]
    public void ReadResponse_NotJson_ThrowsUpstreamError()
    {
        var ex = Assert.Throws<DialectException>(() => Read("<html>502 Bad Gateway</html>"));

        Assert.Equal(QlaudErrorKind.UpstreamError, ex.Kind);
    }
}
