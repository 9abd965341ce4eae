using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests;

/// <summary>The OpenAI surface driven by the official OpenAI .NET SDK against a real gateway and a fake upstream over HTTP.</summary>
public sealed class OpenAIChatCompletionsTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task CompleteChat_OpenAIRoute_ReturnsUpstreamAnswerAndRewritesOnlyModel()
    {
        _gateway.Fake.Enqueue(FakeReply.Text("Paris is the capital.") with { Usage = new FakeUsage { InputTokens = 12, OutputTokens = 5 } });

        ChatCompletion completion = await _gateway.OpenAIChat("fake-gpt").CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("Capital of France?")],
            new ChatCompletionOptions { Temperature = 0.2f, MaxOutputTokenCount = 50 });

        Assert.Equal("Paris is the capital.", completion.Content[0].Text);
        Assert.Equal(12, completion.Usage.InputTokenCount);
        Assert.Equal(5, completion.Usage.OutputTokenCount);
        var forwarded = Assert.Single(_gateway.Fake.Requests);
        Assert.Equal("/v1/chat/completions", forwarded.Path);
        Assert.Equal("Bearer sk-fake-openai", forwarded.GetHeader("Authorization"));
        var body = forwarded.BodyJson!.Value;
        Assert.Equal("upstream-gpt", body.GetProperty("model").GetString());
        Assert.Equal("Capital of France?", body.GetProperty("messages")[1].GetProperty("content").GetString());
        Assert.Equal(50, body.GetProperty("max_completion_tokens").GetInt32());
    }

    [Fact]
    public async Task CompleteChatStreaming_WithUsage_RelaysTextAndUsage()
    {
        _gateway.Fake.Enqueue(FakeReply.Text("one two three four five six") with { ChunkSize = 4, Usage = new FakeUsage { InputTokens = 30, OutputTokens = 6, CachedTokens = 10 } });

        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        int updates = 0;
        await foreach (var update in _gateway.OpenAIChat("fake-gpt").CompleteChatStreamingAsync([new UserChatMessage("count")]))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            usage = update.Usage ?? usage;
        }

        Assert.Equal("one two three four five six", text.ToString());
        Assert.True(updates > 5, $"expected the stream in several chunks, got {updates}");
        Assert.NotNull(usage);
        Assert.Equal(30, usage.InputTokenCount);
        Assert.Equal(6, usage.OutputTokenCount);
        Assert.Equal(10, usage.InputTokenDetails.CachedTokenCount);
    }

    [Fact]
    public async Task CompleteChat_ToolCallRoundTrip_CallAndResultReachUpstream()
    {
        _gateway.Fake.Enqueue(FakeReply.ToolCall(new FakeToolCall("get_weather", "{\"city\":\"Oslo\"}", "call_1"), new FakeToolCall("get_time", "{\"tz\":\"CET\"}", "call_2")));
        _gateway.Fake.Enqueue(FakeReply.Text("It is sunny in Oslo."));
        var tool = ChatTool.CreateFunctionTool("get_weather", "Weather for a city", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        var options = new ChatCompletionOptions { Tools = { tool, ChatTool.CreateFunctionTool("get_time", "Time", BinaryData.FromString("""{"type":"object"}""")) } };
        var chat = _gateway.OpenAIChat("fake-gpt");
        List<ChatMessage> messages = [new UserChatMessage("Weather in Oslo?")];

        ChatCompletion first = await chat.CompleteChatAsync(messages, options);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        Assert.Equal(["get_weather", "get_time"], first.ToolCalls.Select(static c => c.FunctionName));
        Assert.Equal("Oslo", JsonDocument.Parse(first.ToolCalls[0].FunctionArguments).RootElement.GetProperty("city").GetString());
        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage("call_1", "sunny, 21C"));
        messages.Add(new ToolChatMessage("call_2", "12:00"));

        ChatCompletion second = await chat.CompleteChatAsync(messages, options);

        Assert.Equal("It is sunny in Oslo.", second.Content[0].Text);
        var sent = _gateway.Fake.Requests[1].BodyJson!.Value.GetProperty("messages");
        Assert.Equal("call_1", sent[1].GetProperty("tool_calls")[0].GetProperty("id").GetString());
        Assert.Equal("tool", sent[2].GetProperty("role").GetString());
        Assert.Equal("call_1", sent[2].GetProperty("tool_call_id").GetString());
        Assert.Equal("sunny, 21C", sent[2].GetProperty("content").GetString());
    }

    [Fact]
    public async Task CompleteChatStreaming_ParallelToolCalls_EachKeepsItsIndex()
    {
        _gateway.Fake.Enqueue(FakeReply.ToolCall(new FakeToolCall("a", "{\"x\":1}", "call_a"), new FakeToolCall("b", "{\"y\":2}", "call_b")) with { ChunkSize = 3 });
        var arguments = new Dictionary<int, StringBuilder>();
        var names = new Dictionary<int, string>();
        await foreach (var update in _gateway.OpenAIChat("fake-gpt").CompleteChatStreamingAsync([new UserChatMessage("go")],
            new ChatCompletionOptions { Tools = { ChatTool.CreateFunctionTool("a", "a"), ChatTool.CreateFunctionTool("b", "b") } }))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                if (call.FunctionName is { } name)
                {
                    names[call.Index] = name;
                }

                (arguments.TryGetValue(call.Index, out var sb) ? sb : arguments[call.Index] = new StringBuilder()).Append(call.FunctionArgumentsUpdate.ToString());
            }
        }

        Assert.Equal("a", names[0]);
        Assert.Equal("b", names[1]);
        Assert.Equal("{\"x\":1}", arguments[0].ToString());
        Assert.Equal("{\"y\":2}", arguments[1].ToString());
    }

    [Fact]
    public async Task CompleteChat_JsonMode_ResponseFormatForwarded()
    {
        _gateway.Fake.Enqueue(FakeReply.Text("{\"ok\":true}"));
        ChatCompletion completion = await _gateway.OpenAIChat("fake-gpt").CompleteChatAsync([new UserChatMessage("json please")],
            new ChatCompletionOptions { ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() });

        Assert.True(JsonDocument.Parse(completion.Content[0].Text).RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal("json_object", _gateway.Fake.Requests[0].BodyJson!.Value.GetProperty("response_format").GetProperty("type").GetString());
    }

    [Fact]
    public async Task CompleteChat_EchoModel_AnswersOffline()
    {
        ChatCompletion completion = await _gateway.OpenAIChat("qlaud/echo").CompleteChatAsync([new UserChatMessage("hello gateway")]);
        Assert.Equal("hello gateway", completion.Content[0].Text);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task CompleteChat_UnknownModel_404ModelNotFound()
    {
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => _gateway.OpenAIChat("no-such-model").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, ex.Status);
        Assert.Contains("no-such-model", ex.Message, StringComparison.Ordinal);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task CompleteChat_WrongKey_401AndNoUpstreamCall()
    {
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => _gateway.OpenAIChat("fake-gpt", key: "qlk_live_wrong").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, ex.Status);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task CompleteChat_ModelWithoutConfiguredProvider_503NamingTheKey()
    {
        // Built-in catalog models need a provider key; none is set in tests.
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => _gateway.OpenAIChat("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(503, ex.Status);
        Assert.Contains("ApiKey", ex.Message, StringComparison.Ordinal);
    }
}

/// <summary>OpenAI clients on Claude: the official OpenAI SDK against an Anthropic-dialect route, translated both ways.</summary>
public sealed class OpenAIOnAnthropicRouteTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task CompleteChat_AnthropicRoute_TranslatedRequestAndAnswer()
    {
        _gateway.Fake.Enqueue(FakeReply.Text("Bonjour from Claude.") with { Usage = new FakeUsage { InputTokens = 40, OutputTokens = 4, CachedTokens = 100, CacheCreationTokens = 10 } });

        ChatCompletion completion = await _gateway.OpenAIChat("fake-claude").CompleteChatAsync(
            [new SystemChatMessage("You are terse."), new UserChatMessage("Greet me.")], new ChatCompletionOptions { MaxOutputTokenCount = 64 });

        Assert.Equal("Bonjour from Claude.", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(150, completion.Usage.InputTokenCount); // 40 uncached + 100 cache reads + 10 cache writes
        Assert.Equal(100, completion.Usage.InputTokenDetails.CachedTokenCount);
        var upstream = Assert.Single(_gateway.Fake.Requests);
        Assert.Equal("/v1/messages", upstream.Path);
        Assert.Equal("sk-ant-fake", upstream.GetHeader("x-api-key"));
        var body = upstream.BodyJson!.Value;
        Assert.Equal("upstream-claude", body.GetProperty("model").GetString());
        Assert.Equal(64, body.GetProperty("max_tokens").GetInt32());
        Assert.Contains("You are terse.", body.GetProperty("system").GetRawText(), StringComparison.Ordinal);
        Assert.Equal("user", body.GetProperty("messages")[0].GetProperty("role").GetString());
    }

    [Fact]
    public async Task CompleteChatStreaming_AnthropicRoute_TextToolCallsAndUsage()
    {
        _gateway.Fake.Enqueue(FakeReply.ToolCall(new FakeToolCall("get_weather", """{"city":"Oslo"}""", "toolu_1"), new FakeToolCall("get_time", """{"tz":"CET"}""", "toolu_2")) with
        {
            ChunkSize = 4,
            Usage = new FakeUsage { InputTokens = 25, OutputTokens = 9 },
        });
        var names = new Dictionary<int, string>();
        var arguments = new Dictionary<int, StringBuilder>();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        await foreach (var update in _gateway.OpenAIChat("fake-claude").CompleteChatStreamingAsync([new UserChatMessage("weather?")],
            new ChatCompletionOptions { Tools = { ChatTool.CreateFunctionTool("get_weather", "w"), ChatTool.CreateFunctionTool("get_time", "t") } }))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                if (call.FunctionName is { } name)
                {
                    names[call.Index] = name;
                }

                (arguments.TryGetValue(call.Index, out var sb) ? sb : arguments[call.Index] = new StringBuilder()).Append(call.FunctionArgumentsUpdate.ToString());
            }

            usage = update.Usage ?? usage;
            finish = update.FinishReason ?? finish;
        }

        Assert.Equal("get_weather", names[0]);
        Assert.Equal("get_time", names[1]);
        Assert.Equal("Oslo", JsonDocument.Parse(arguments[0].ToString()).RootElement.GetProperty("city").GetString());
        Assert.Equal("CET", JsonDocument.Parse(arguments[1].ToString()).RootElement.GetProperty("tz").GetString());
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.NotNull(usage);
        Assert.Equal(9, usage.OutputTokenCount);
        Assert.Equal(25, usage.InputTokenCount);
    }

    [Fact]
    public async Task CompleteChat_AnthropicUpstreamError_OpenAIErrorShape()
    {
        _gateway.Fake.Enqueue(FakeReply.Error(400, """{"type":"error","error":{"type":"invalid_request_error","message":"messages: text content blocks must be non-empty"}}"""));
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => _gateway.OpenAIChat("fake-claude").CompleteChatAsync([new UserChatMessage("x")]));
        Assert.Equal(400, ex.Status);
        Assert.Contains("text content blocks must be non-empty", ex.Message, StringComparison.Ordinal);
    }
}
