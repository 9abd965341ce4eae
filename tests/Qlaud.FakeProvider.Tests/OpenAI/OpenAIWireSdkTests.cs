using System.ClientModel;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using OpenAI.Models;

namespace Qlaud.FakeProvider.Tests.OpenAI;

/// <summary>The official OpenAI .NET SDK against the fake: proof that the fake speaks Chat Completions.</summary>
public sealed class OpenAIWireSdkTests
{
    private static readonly ChatMessage[] s_hello = [new UserChatMessage("Hello there")];

    [Fact]
    public async Task CompleteChat_NoScript_ReturnsDefaultTextEchoesModelAndNonZeroUsage()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        var client = TestClients.OpenAIChat(fake, "my-model");

        ChatCompletion completion = await client.CompleteChatAsync(s_hello);

        Assert.Equal(FakeProviderOptions.DefaultReplyText, completion.Content[0].Text);
        Assert.Equal("my-model", completion.Model);
        Assert.StartsWith("chatcmpl-", completion.Id, StringComparison.Ordinal);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Empty(completion.ToolCalls);

        var body = Assert.Single(fake.Requests).Body.Length;
        Assert.Equal(body / 4, completion.Usage.InputTokenCount);
        Assert.Equal(5, completion.Usage.OutputTokenCount); // "Hello from the fake provider." is five words.
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task CompleteChat_ScriptedUsage_ReportsExactNumbers()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Text("ok") with
        {
            Usage = new FakeUsage { InputTokens = 1200, OutputTokens = 34, CachedTokens = 1000, ReasoningTokens = 12 },
        });

        ChatCompletion completion = await TestClients.OpenAIChat(fake).CompleteChatAsync(s_hello);

        Assert.Equal(1200, completion.Usage.InputTokenCount);
        Assert.Equal(34, completion.Usage.OutputTokenCount);
        Assert.Equal(1234, completion.Usage.TotalTokenCount);
        Assert.Equal(1000, completion.Usage.InputTokenDetails.CachedTokenCount);
        Assert.Equal(12, completion.Usage.OutputTokenDetails.ReasoningTokenCount);
    }

    [Fact]
    public async Task CompleteChatStreaming_SdkAsksForUsage_ReassemblesTextAndReportsUsageOnce()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        const string text = "The quick brown fox jumps over the lazy dog.";
        fake.Enqueue(FakeReply.Text(text) with { ChunkSize = 5, Usage = new FakeUsage { InputTokens = 21, OutputTokens = 9 } });

        var builder = new StringBuilder();
        var contentUpdates = 0;
        var usages = new List<ChatTokenUsage>();
        ChatFinishReason? finish = null;
        await foreach (var update in TestClients.OpenAIChat(fake).CompleteChatStreamingAsync(s_hello))
        {
            foreach (var part in update.ContentUpdate)
            {
                // The first chunk carries the role with an empty content, as OpenAI's does.
                if (part.Text.Length > 0)
                {
                    builder.Append(part.Text);
                    contentUpdates++;
                }
            }

            if (update.Usage is not null)
            {
                usages.Add(update.Usage);
            }

            finish ??= update.FinishReason;
        }

        Assert.Equal(text, builder.ToString());
        Assert.Equal((text.Length + 4) / 5, contentUpdates);
        Assert.Equal(ChatFinishReason.Stop, finish);
        var usage = Assert.Single(usages);
        Assert.Equal(21, usage.InputTokenCount);
        Assert.Equal(9, usage.OutputTokenCount);

        var recorded = Assert.Single(fake.Requests);
        Assert.True(recorded.Stream);
        Assert.True(recorded.BodyJson!.Value.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
    }

    [Fact]
    public async Task CompleteChat_ParallelToolCalls_ReturnsEveryCall()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.ToolCall(
            new FakeToolCall("get_weather", """{"city":"Paris"}""", "call_1"),
            new FakeToolCall("get_time", """{"zone":"CET"}""")));

        ChatCompletion completion = await TestClients.OpenAIChat(fake).CompleteChatAsync(s_hello, WeatherTools());

        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        Assert.Empty(completion.Content);
        Assert.Collection(
            completion.ToolCalls,
            call =>
            {
                Assert.Equal("call_1", call.Id);
                Assert.Equal("get_weather", call.FunctionName);
                Assert.Equal("""{"city":"Paris"}""", call.FunctionArguments.ToString());
            },
            call =>
            {
                Assert.StartsWith("call_", call.Id, StringComparison.Ordinal);
                Assert.Equal("get_time", call.FunctionName);
                Assert.Equal("""{"zone":"CET"}""", call.FunctionArguments.ToString());
            });
    }

    [Fact]
    public async Task CompleteChatStreaming_ParallelToolCalls_ArgumentsReassemblePerIndex()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.ToolCall(
            new FakeToolCall("get_weather", """{"city":"Paris","unit":"celsius"}""", "call_a"),
            new FakeToolCall("get_time", """{"zone":"Europe/Paris"}""", "call_b")) with { ChunkSize = 6 });

        var ids = new Dictionary<int, string>();
        var names = new Dictionary<int, string>();
        var arguments = new Dictionary<int, StringBuilder>();
        var fragments = 0;
        ChatFinishReason? finish = null;
        await foreach (var update in TestClients.OpenAIChat(fake).CompleteChatStreamingAsync(s_hello, WeatherTools()))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                if (call.ToolCallId is not null)
                {
                    ids.Add(call.Index, call.ToolCallId);
                }

                if (call.FunctionName is not null)
                {
                    names.Add(call.Index, call.FunctionName);
                }

                var piece = call.FunctionArgumentsUpdate?.ToString() ?? "";
                if (piece.Length > 0)
                {
                    fragments++;
                }

                (arguments.TryGetValue(call.Index, out var sb) ? sb : arguments[call.Index] = new StringBuilder()).Append(piece);
            }

            finish ??= update.FinishReason;
        }

        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal(new Dictionary<int, string> { [0] = "call_a", [1] = "call_b" }, ids);
        Assert.Equal(new Dictionary<int, string> { [0] = "get_weather", [1] = "get_time" }, names);
        Assert.Equal("""{"city":"Paris","unit":"celsius"}""", arguments[0].ToString());
        Assert.Equal("""{"zone":"Europe/Paris"}""", arguments[1].ToString());
        Assert.True(fragments > 4, $"arguments should arrive in several chunks, got {fragments}");
    }

    [Fact]
    public async Task CompleteChat_Reasoning_CarriesReasoningContentBesideTheAnswer()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.TextWithReasoning("Think step by step.", "42"));

        ClientResult<ChatCompletion> result = await TestClients.OpenAIChat(fake).CompleteChatAsync(s_hello);

        Assert.Equal("42", result.Value.Content[0].Text);
        Assert.Equal(4, result.Value.Usage.OutputTokenDetails.ReasoningTokenCount);
        using var raw = JsonDocument.Parse(result.GetRawResponse().Content.ToMemory());
        var message = raw.RootElement.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal("Think step by step.", message.GetProperty("reasoning_content").GetString());
    }

    [Fact]
    public async Task CompleteChat_NoReasoningScripted_OmitsReasoningContent()
    {
        await using var fake = await FakeProviderServer.StartAsync();

        ClientResult<ChatCompletion> result = await TestClients.OpenAIChat(fake).CompleteChatAsync(s_hello);

        using var raw = JsonDocument.Parse(result.GetRawResponse().Content.ToMemory());
        var message = raw.RootElement.GetProperty("choices")[0].GetProperty("message");
        Assert.False(message.TryGetProperty("reasoning_content", out _));
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task CompleteChat_ScriptedError_ThrowsClientResultExceptionWithStatus(int status)
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Error(status));

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => TestClients.OpenAIChat(fake).CompleteChatAsync(s_hello));

        Assert.Equal(status, ex.Status);
        using var body = JsonDocument.Parse(ex.GetRawResponse()!.Content.ToMemory());
        var error = body.RootElement.GetProperty("error");
        Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.True(error.TryGetProperty("param", out _));
        Assert.True(error.TryGetProperty("code", out _));
    }

    [Fact]
    public async Task CompleteChat_RateLimited_ExposesRetryAfterHeader()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(7)));

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => TestClients.OpenAIChat(fake).CompleteChatAsync(s_hello));

        Assert.Equal(429, ex.Status);
        Assert.True(ex.GetRawResponse()!.Headers.TryGetValue("retry-after", out var retryAfter));
        Assert.Equal("7", retryAfter);
    }

    [Fact]
    public async Task CompleteChat_Request_IsRecordedExactlyAsSent()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        var options = new ChatCompletionOptions { Temperature = 0.5f, MaxOutputTokenCount = 77 };

        await TestClients.OpenAIChat(fake, "gpt-recorded").CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("Hi!")], options);

        var request = Assert.Single(fake.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1/chat/completions", request.Path);
        Assert.Equal("Bearer k", request.GetHeader("authorization"));
        Assert.Equal("Bearer k", request.Headers["Authorization"]);
        Assert.StartsWith("application/json", request.GetHeader("content-type"), StringComparison.Ordinal);
        Assert.Equal("gpt-recorded", request.Model);
        Assert.False(request.Stream);
        Assert.True(request.Completion.IsCompleted);
        Assert.False(request.Cancelled);

        var json = request.BodyJson!.Value;
        Assert.Equal("gpt-recorded", json.GetProperty("model").GetString());
        Assert.Equal(77, json.GetProperty("max_completion_tokens").GetInt32());
        Assert.Equal(0.5, json.GetProperty("temperature").GetDouble(), 3);
        var messages = json.GetProperty("messages");
        Assert.Equal("system", messages[0].GetProperty("role").GetString());
        Assert.Equal("Be brief.", messages[0].GetProperty("content").ValueKind == JsonValueKind.String
            ? messages[0].GetProperty("content").GetString()
            : messages[0].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("user", messages[1].GetProperty("role").GetString());
        Assert.Equal(Encoding.UTF8.GetString(request.Body.Span), request.BodyText);
    }

    [Fact]
    public async Task GetModels_ConfiguredModels_AreListed()
    {
        await using var fake = await FakeProviderServer.StartAsync(new FakeProviderOptions { Models = ["alpha", "beta"] });
        var client = new OpenAIModelClient(new ApiKeyCredential("k"), TestClients.OpenAIOptions(fake));

        OpenAIModelCollection models = await client.GetModelsAsync();

        Assert.Equal(["alpha", "beta"], models.Select(m => m.Id));
        Assert.All(models, m => Assert.Equal("qlaud-fake", m.OwnedBy));
    }

    private static ChatCompletionOptions WeatherTools() => new()
    {
        Tools =
        {
            ChatTool.CreateFunctionTool("get_weather", "Weather for a city", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}}}""")),
            ChatTool.CreateFunctionTool("get_time", "Time in a zone", BinaryData.FromString("""{"type":"object","properties":{"zone":{"type":"string"}}}""")),
        },
        AllowParallelToolCalls = true,
    };
}
