using System.Net;
using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Helpers;
using Anthropic.Models.Messages;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests;

/// <summary>
/// The Anthropic surface driven by the official Anthropic .NET SDK (strict response validation), each case both to an
/// Anthropic-dialect route (<c>fake-claude</c>: passthrough) and to an OpenAI-dialect route (<c>fake-gpt</c>: translated).
/// </summary>
public sealed class AnthropicMessagesTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static MessageCreateParams Ask(string model, string text = "Hello there", IReadOnlyList<ToolUnion>? tools = null) => new()
    {
        Model = model,
        MaxTokens = 512,
        Messages = [new UserMessageParam(text)],
        Tools = tools,
    };

    private static readonly IReadOnlyList<ToolUnion> WeatherTools =
    [
        new Tool { Name = "get_weather", Description = "Weather for a city", InputSchema = new InputSchema { Properties = new Dictionary<string, JsonElement> { ["city"] = JsonDocument.Parse("""{"type":"string"}""").RootElement }, Required = ["city"] } },
        new Tool { Name = "get_time", Description = "Time in a zone", InputSchema = new InputSchema() },
    ];

    public static TheoryData<string, string> Routes => new()
    {
        { "fake-claude", "/v1/messages" },
        { "fake-gpt", "/v1/chat/completions" },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Create_Text_AnswerAndUsageOnBothRoutes(string model, string upstreamPath)
    {
        _gateway.Fake.Enqueue(FakeReply.Text("Bonjour.") with { Usage = new FakeUsage { InputTokens = 20, OutputTokens = 3 } });

        Message message = await _gateway.AnthropicClient().Messages.Create(Ask(model));

        Assert.True(Assert.Single(message.Content).TryPickText(out var text));
        Assert.Equal("Bonjour.", text.Text);
        Assert.Equal(StopReason.EndTurn, message.StopReason!.Value());
        Assert.Equal(3, message.Usage.OutputTokens);
        Assert.Equal(20, message.Usage.InputTokens);
        var upstream = Assert.Single(_gateway.Fake.Requests);
        Assert.Equal(upstreamPath, upstream.Path);
        Assert.Equal(model == "fake-claude" ? "upstream-claude" : "upstream-gpt", upstream.Model);
    }

    [Fact]
    public async Task Create_AnthropicRoute_ForwardsKeyVersionAndBodyUnchanged()
    {
        using var http = _gateway.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent("""{"model":"fake-claude","max_tokens":64,"thinking":{"type":"adaptive"},"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}],"container":"c1"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("anthropic-beta", "some-future-beta-2027-01-01,interleaved-thinking-2025-05-14");
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var upstream = Assert.Single(_gateway.Fake.Requests);
        Assert.Equal("sk-ant-fake", upstream.GetHeader("x-api-key"));
        Assert.Equal("2023-06-01", upstream.GetHeader("anthropic-version"));
        Assert.Equal("some-future-beta-2027-01-01,interleaved-thinking-2025-05-14", upstream.GetHeader("anthropic-beta"));
        Assert.Null(upstream.GetHeader("Authorization"));
        Assert.Equal("""{"model":"upstream-claude","max_tokens":64,"thinking":{"type":"adaptive"},"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}],"container":"c1"}""", upstream.BodyText);
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task CreateStreaming_AccumulatesToTheNonStreamMessage(string model, string upstreamPath)
    {
        _ = upstreamPath;
        var reply = FakeReply.Text("Streaming through the gateway works.") with { ChunkSize = 5, Usage = new FakeUsage { InputTokens = 11, OutputTokens = 6 } };
        _gateway.Fake.Enqueue(reply, reply);
        var client = _gateway.AnthropicClient();

        Message whole = await client.Messages.Create(Ask(model));
        Message streamed = await client.Messages.CreateStreaming(Ask(model)).Aggregate();

        Assert.Equal(Texts(whole), Texts(streamed));
        Assert.Equal(whole.StopReason!.Value(), streamed.StopReason!.Value());
        Assert.Equal(whole.Usage.OutputTokens, streamed.Usage.OutputTokens);
        Assert.Equal(whole.Usage.InputTokens, streamed.Usage.InputTokens);
        Assert.True(_gateway.Fake.Requests[1].Stream);
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task ToolUse_RoundTrip_ParallelCallsAndResultsReachUpstream(string model, string upstreamPath)
    {
        _ = upstreamPath;
        _gateway.Fake.Enqueue(
            FakeReply.ToolCall(new FakeToolCall("get_weather", """{"city":"Oslo"}""", "toolu_a1"), new FakeToolCall("get_time", """{"zone":"CET"}""", "toolu_b2")) with { ChunkSize = 4 },
            FakeReply.Text("Sunny, and it is noon."));
        var client = _gateway.AnthropicClient();

        Message first = await client.Messages.CreateStreaming(Ask(model, "Weather and time in Oslo?", WeatherTools)).Aggregate();

        Assert.Equal(StopReason.ToolUse, first.StopReason!.Value());
        var calls = first.Content.Select(static b => b.TryPickToolUse(out var t) ? t : null).OfType<ToolUseBlock>().ToList();
        Assert.Equal(["get_weather", "get_time"], calls.Select(static c => c.Name));
        Assert.Equal("Oslo", calls[0].Input["city"].GetString());
        Assert.Equal("CET", calls[1].Input["zone"].GetString());

        var follow = Ask(model, "unused", WeatherTools) with
        {
            Messages =
            [
                new UserMessageParam("Weather and time in Oslo?"),
                new AssistantMessageParam(new List<ContentBlockParam>
                {
                    new ToolUseBlockParam { ID = calls[0].ID, Name = calls[0].Name, Input = calls[0].Input },
                    new ToolUseBlockParam { ID = calls[1].ID, Name = calls[1].Name, Input = calls[1].Input },
                }),
                new UserMessageParam(new List<ContentBlockParam>
                {
                    new ToolResultBlockParam(calls[0].ID) { Content = "sunny, 21C" },
                    new ToolResultBlockParam(calls[1].ID) { Content = "12:00", IsError = false },
                }),
            ],
        };
        Message second = await client.Messages.Create(follow);

        Assert.Equal("Sunny, and it is noon.", Texts(second));
        var sent = _gateway.Fake.Requests[1].BodyJson!.Value.GetProperty("messages");
        if (model == "fake-gpt")
        {
            Assert.Equal(calls[0].ID, sent[1].GetProperty("tool_calls")[0].GetProperty("id").GetString());
            Assert.Equal("get_time", sent[1].GetProperty("tool_calls")[1].GetProperty("function").GetProperty("name").GetString());
            Assert.Equal("tool", sent[2].GetProperty("role").GetString());
            Assert.Equal(calls[0].ID, sent[2].GetProperty("tool_call_id").GetString());
            Assert.Equal("sunny, 21C", sent[2].GetProperty("content").GetString());
            Assert.Equal(calls[1].ID, sent[3].GetProperty("tool_call_id").GetString());
        }
        else
        {
            var results = sent[2].GetProperty("content");
            Assert.Equal("tool_result", results[0].GetProperty("type").GetString());
            Assert.Equal(calls[0].ID, results[0].GetProperty("tool_use_id").GetString());
        }
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Thinking_ReasoningArrivesAsThinkingBlock(string model, string upstreamPath)
    {
        _ = upstreamPath;
        _gateway.Fake.Enqueue(FakeReply.TextWithReasoning("Let me think about it.", "The answer.", signature: "c2lnbmF0dXJl") with { ChunkSize = 6 });
        var request = Ask(model) with { Thinking = new ThinkingConfigEnabled(2048) };

        Message message = await _gateway.AnthropicClient().Messages.CreateStreaming(request).Aggregate();

        Assert.Equal(2, message.Content.Count);
        Assert.True(message.Content[0].TryPickThinking(out var thinking));
        Assert.Equal("Let me think about it.", thinking.Thinking);
        if (model == "fake-claude")
        {
            Assert.Equal("c2lnbmF0dXJl", thinking.Signature);
        }

        Assert.True(message.Content[1].TryPickText(out var text));
        Assert.Equal("The answer.", text.Text);
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task CountTokens_AnswersForEveryModel(string model, string upstreamPath)
    {
        _ = upstreamPath;
        var count = await _gateway.AnthropicClient().Messages.CountTokens(new MessageCountTokensParams
        {
            Model = model,
            Messages = [new UserMessageParam("How many tokens is this sentence, roughly speaking?")],
        });

        Assert.True(count.InputTokens > 5, $"{count.InputTokens}");
        if (model == "fake-claude")
        {
            Assert.Equal("/v1/messages/count_tokens", Assert.Single(_gateway.Fake.Requests).Path);
        }
        else
        {
            Assert.Empty(_gateway.Fake.Requests);
        }
    }

    [Fact]
    public async Task CountTokens_OpenAIModelRoute_CountsWithItsTokenizer()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Models:2:Id"] = "fake-4o",
            ["Qlaud:Models:2:Routes:0:Provider"] = "fake",
            ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "gpt-4o",
            ["Qlaud:Models:2:Routes:0:InputPerMTok"] = "1",
            ["Qlaud:Models:2:Routes:0:OutputPerMTok"] = "2",
        });

        var count = await gateway.AnthropicClient().Messages.CountTokens(new MessageCountTokensParams
        {
            Model = "fake-4o",
            System = "Be brief.",
            Messages = [new UserMessageParam("Hello, world")],
        });

        // o200k: "Be brief." 3 + "Hello, world" 3, plus 3 per message and 1 for its role, plus 3 priming the reply
        // (what OpenAI reports as prompt_tokens for it); the old 4-characters-per-token estimate said 14.
        Assert.Equal(17, count.InputTokens);
        Assert.Empty(gateway.Fake.Requests);
    }

    [Fact]
    public async Task Create_OpenAIRoute_CachedTokensBecomeCacheRead()
    {
        _gateway.Fake.Enqueue(FakeReply.Text("ok") with { Usage = new FakeUsage { InputTokens = 1000, OutputTokens = 2, CachedTokens = 800 } });
        Message message = await _gateway.AnthropicClient().Messages.Create(Ask("fake-gpt"));

        Assert.Equal(800, message.Usage.CacheReadInputTokens);
        Assert.Equal(200, message.Usage.InputTokens);
    }

    [Fact]
    public async Task Create_OpenAIRoute_ThinkingHistoryAndBareToolChoiceNotSentUpstream()
    {
        // The thinking block Qlaud signed when it translated the first answer.
        _gateway.Fake.Enqueue(FakeReply.TextWithReasoning("hmm", "a"));
        Message first = await _gateway.AnthropicClient().Messages.Create(Ask("fake-gpt", "q"));
        Assert.True(first.Content[0].TryPickThinking(out var thinking));
        string body = $$"""
            {"model":"fake-gpt","max_tokens":100,"tool_choice":{"type":"auto"},
             "messages":[{"role":"user","content":"q"},
                         {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"{{thinking.Signature}}"},{"type":"text","text":"a"}]},
                         {"role":"user","content":"q2"}]}
            """;
        using var response = await _gateway.Http().PostAsync("/v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var upstream = _gateway.Fake.Requests[1].BodyJson!.Value;
        Assert.False(upstream.TryGetProperty("tool_choice", out _));
        Assert.DoesNotContain("thinking", upstream.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain(thinking.Signature, upstream.GetRawText(), StringComparison.Ordinal);
        Assert.Equal("a", upstream.GetProperty("messages")[1].GetProperty("content").GetString());
    }

    [Fact]
    public async Task Create_UnknownModel_404InAnthropicEnvelope()
    {
        using var response = await _gateway.Http().PostAsync("/v1/messages", new StringContent("""{"model":"nope","max_tokens":5,"messages":[]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("error", doc.RootElement.GetProperty("type").GetString());
        Assert.Equal("not_found_error", doc.RootElement.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Create_OpenAIUpstreamRateLimited_429InAnthropicEnvelope()
    {
        _gateway.Fake.Enqueue(FakeReply.Error(429, """{"error":{"message":"slow down","type":"rate_limit_exceeded","param":null,"code":null}}"""));
        using var response = await _gateway.Http().PostAsync("/v1/messages", new StringContent("""{"model":"fake-gpt","max_tokens":5,"messages":[{"role":"user","content":"x"}]}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("rate_limit_error", doc.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("slow down", doc.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateStreaming_OpenAIUpstreamCutsStream_EndsWithErrorEvent()
    {
        _gateway.Fake.Enqueue(FakeReply.CutOff("a long answer that will be cut off in the middle", afterChunks: 3) with { ChunkSize = 4, ChunkDelay = TimeSpan.FromMilliseconds(5) });
        using var response = await _gateway.Http().PostAsync("/v1/messages", new StringContent("""{"model":"fake-gpt","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"x"}]}""", Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();

        Assert.StartsWith("event: message_start", text, StringComparison.Ordinal);
        Assert.DoesNotContain("event: message_stop", text, StringComparison.Ordinal);
        var last = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.StartsWith("event: error", last, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Models_WithAnthropicVersion_AnthropicListShape()
    {
        using var http = _gateway.Http();
        http.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");
        using var doc = JsonDocument.Parse(await http.GetStringAsync("/v1/models"));
        Assert.False(doc.RootElement.GetProperty("has_more").GetBoolean());
        Assert.Contains(doc.RootElement.GetProperty("data").EnumerateArray(), static m => m.GetProperty("id").GetString() == "fake-claude" && m.GetProperty("type").GetString() == "model");
    }

    private static string Texts(Message message)
        => string.Concat(message.Content.Select(static b => b.TryPickText(out var t) ? t.Text : ""));
}
