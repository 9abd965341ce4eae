using System.Net;
using System.Text;
using System.Text.Json;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;

namespace Qlaud.FakeProvider.Tests.Anthropic;

/// <summary>The official Anthropic .NET SDK (with strict response validation) against the fake.</summary>
public sealed class AnthropicWireSdkTests
{
    private static MessageCreateParams Hello(string model = TestClients.Model) => new()
    {
        Model = model,
        MaxTokens = 256,
        Messages = [new UserMessageParam("Hello there")],
    };

    [Fact]
    public async Task Create_NoScript_ReturnsDefaultTextMessageAndEchoesModel()
    {
        await using var fake = await FakeProviderServer.StartAsync();

        var message = await TestClients.Anthropic(fake).Messages.Create(Hello("claude-echo"));

        message.Validate();
        Assert.StartsWith("msg_", message.ID, StringComparison.Ordinal);
        Assert.Equal("claude-echo", message.Model.Raw());
        Assert.Equal(StopReason.EndTurn, message.StopReason!.Value());
        Assert.Null(message.StopSequence);
        var block = Assert.Single(message.Content);
        Assert.True(block.TryPickText(out var text));
        Assert.Equal(FakeProviderOptions.DefaultReplyText, text.Text);
        Assert.True(message.Usage.InputTokens > 0);
        Assert.Equal(5, message.Usage.OutputTokens);
    }

    [Fact]
    public async Task Create_ScriptedUsage_MapsCacheFields()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Text("ok") with
        {
            Usage = new FakeUsage { InputTokens = 50, OutputTokens = 7, CachedTokens = 900, CacheCreationTokens = 300 },
        });

        var message = await TestClients.Anthropic(fake).Messages.Create(Hello());

        Assert.Equal(50, message.Usage.InputTokens);
        Assert.Equal(7, message.Usage.OutputTokens);
        Assert.Equal(900, message.Usage.CacheReadInputTokens);
        Assert.Equal(300, message.Usage.CacheCreationInputTokens);
    }

    [Fact]
    public async Task CreateStreaming_Text_EventsArriveInDocumentedOrder()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Text("Streaming works fine.") with { ChunkSize = 4, Usage = new FakeUsage { InputTokens = 30, OutputTokens = 3 } });

        var types = new List<string>();
        var text = new StringBuilder();
        long? inputTokens = null, outputTokens = null;
        StopReason? stop = null;
        await foreach (var e in TestClients.Anthropic(fake).Messages.CreateStreaming(Hello()))
        {
            e.Validate();
            types.Add(e.Json.GetProperty("type").GetString()!);
            if (e.TryPickStart(out var start))
            {
                inputTokens = start.Message.Usage.InputTokens;
                Assert.Empty(start.Message.Content);
            }
            else if (e.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickText(out var textDelta))
            {
                text.Append(textDelta.Text);
            }
            else if (e.TryPickDelta(out var messageDelta))
            {
                outputTokens = messageDelta.Usage.OutputTokens;
                stop = messageDelta.Delta.StopReason!.Value();
            }
        }

        Assert.Equal("Streaming works fine.", text.ToString());
        string[] expected =
        [
            "message_start", "content_block_start",
            .. Enumerable.Repeat("content_block_delta", 6),
            "content_block_stop", "message_delta", "message_stop",
        ];
        Assert.Equal(expected, types);
        Assert.Equal(30, inputTokens);
        Assert.Equal(3, outputTokens);
        Assert.Equal(StopReason.EndTurn, stop);
    }

    [Fact]
    public async Task Create_ParallelToolUse_ReturnsToolUseBlocks()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.ToolCall(
            new FakeToolCall("get_weather", """{"city":"Paris"}""", "toolu_1"),
            new FakeToolCall("get_time", """{"zone":"CET"}""")));

        var message = await TestClients.Anthropic(fake).Messages.Create(Hello());

        Assert.Equal(StopReason.ToolUse, message.StopReason!.Value());
        Assert.Collection(
            message.Content,
            block =>
            {
                Assert.True(block.TryPickToolUse(out var tool));
                Assert.Equal("toolu_1", tool.ID);
                Assert.Equal("get_weather", tool.Name);
                Assert.Equal("Paris", tool.Input["city"].GetString());
            },
            block =>
            {
                Assert.True(block.TryPickToolUse(out var tool));
                Assert.StartsWith("toolu_", tool.ID, StringComparison.Ordinal);
                Assert.Equal("get_time", tool.Name);
                Assert.Equal("CET", tool.Input["zone"].GetString());
            });
    }

    [Fact]
    public async Task CreateStreaming_ParallelToolUse_InputJsonDeltasReassemblePerBlock()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.ToolCall(
            new FakeToolCall("get_weather", """{"city":"Paris","unit":"celsius"}"""),
            new FakeToolCall("get_time", """{"zone":"Europe/Paris"}""")) with { ChunkSize = 5 });

        var names = new Dictionary<long, string>();
        var inputs = new Dictionary<long, StringBuilder>();
        var deltas = 0;
        StopReason? stop = null;
        await foreach (var e in TestClients.Anthropic(fake).Messages.CreateStreaming(Hello()))
        {
            if (e.TryPickContentBlockStart(out var start) && start.ContentBlock.TryPickToolUse(out var tool))
            {
                names[start.Index] = tool.Name;
                inputs[start.Index] = new StringBuilder();
            }
            else if (e.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickInputJson(out var json))
            {
                inputs[delta.Index].Append(json.PartialJson);
                deltas++;
            }
            else if (e.TryPickDelta(out var messageDelta))
            {
                stop = messageDelta.Delta.StopReason!.Value();
            }
        }

        Assert.Equal(new Dictionary<long, string> { [0] = "get_weather", [1] = "get_time" }, names);
        Assert.Equal("""{"city":"Paris","unit":"celsius"}""", inputs[0].ToString());
        Assert.Equal("""{"zone":"Europe/Paris"}""", inputs[1].ToString());
        Assert.True(deltas > 4, $"input should arrive in several deltas, got {deltas}");
        Assert.Equal(StopReason.ToolUse, stop);
    }

    [Fact]
    public async Task Create_Thinking_ReturnsThinkingBlockWithSignatureBeforeText()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.TextWithReasoning("Let me think.", "Answer.", signature: "c2lnbmF0dXJl"));

        var message = await TestClients.Anthropic(fake).Messages.Create(Hello());

        Assert.Collection(
            message.Content,
            block =>
            {
                Assert.True(block.TryPickThinking(out var thinking));
                Assert.Equal("Let me think.", thinking.Thinking);
                Assert.Equal("c2lnbmF0dXJl", thinking.Signature);
            },
            block =>
            {
                Assert.True(block.TryPickText(out var text));
                Assert.Equal("Answer.", text.Text);
            });
    }

    [Fact]
    public async Task CreateStreaming_Thinking_StreamsThinkingThenSignatureThenText()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.TextWithReasoning("Considering the options carefully.", "Done.") with { ChunkSize = 10 });

        var thinking = new StringBuilder();
        var text = new StringBuilder();
        string? signature = null;
        var order = new List<string>();
        await foreach (var e in TestClients.Anthropic(fake).Messages.CreateStreaming(Hello()))
        {
            if (e.TryPickContentBlockStart(out var start))
            {
                order.Add($"{start.Index}:start:{start.ContentBlock.Json.GetProperty("type").GetString()}");
            }
            else if (e.TryPickContentBlockDelta(out var delta))
            {
                if (delta.Delta.TryPickThinking(out var t))
                {
                    Assert.Null(signature);
                    thinking.Append(t.Thinking);
                }
                else if (delta.Delta.TryPickSignature(out var s))
                {
                    signature = s.Signature;
                    order.Add($"{delta.Index}:signature");
                }
                else if (delta.Delta.TryPickText(out var x))
                {
                    text.Append(x.Text);
                }
            }
            else if (e.TryPickContentBlockStop(out var stop))
            {
                order.Add($"{stop.Index}:stop");
            }
        }

        Assert.Equal("Considering the options carefully.", thinking.ToString());
        Assert.Equal("Done.", text.ToString());
        Assert.False(string.IsNullOrEmpty(signature));
        Assert.Equal(["0:start:thinking", "0:signature", "0:stop", "1:start:text", "1:stop"], order);
    }

    [Theory]
    [InlineData(400, typeof(AnthropicBadRequestException))]
    [InlineData(401, typeof(AnthropicUnauthorizedException))]
    [InlineData(429, typeof(AnthropicRateLimitException))]
    [InlineData(500, typeof(Anthropic5xxException))]
    [InlineData(529, typeof(Anthropic5xxException))]
    public async Task Create_ScriptedError_ThrowsSdkExceptionWithStatus(int status, System.Type expected)
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Error(status));

        var ex = await Assert.ThrowsAnyAsync<AnthropicApiException>(() => TestClients.Anthropic(fake).Messages.Create(Hello()));

        Assert.IsAssignableFrom(expected, ex);
        Assert.Equal((HttpStatusCode)status, ex.StatusCode);
        using var body = JsonDocument.Parse(ex.ResponseBody);
        Assert.Equal("error", body.RootElement.GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.String, body.RootElement.GetProperty("error").GetProperty("type").ValueKind);
    }

    [Fact]
    public async Task CountTokens_Request_ReturnsInputTokensFromBodySize()
    {
        await using var fake = await FakeProviderServer.StartAsync();

        var count = await TestClients.Anthropic(fake).Messages.CountTokens(new MessageCountTokensParams
        {
            Model = TestClients.Model,
            Messages = [new UserMessageParam("How many tokens is this sentence?")],
        });

        var request = Assert.Single(fake.Requests);
        Assert.Equal("/v1/messages/count_tokens", request.Path);
        Assert.Equal(request.Body.Length / 4, count.InputTokens);
    }

    [Fact]
    public async Task Create_Request_IsRecordedWithAnthropicHeaders()
    {
        await using var fake = await FakeProviderServer.StartAsync();

        await TestClients.Anthropic(fake).Messages.Create(Hello("claude-recorded"));

        var request = Assert.Single(fake.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1/messages", request.Path);

        // SDK 13 sends the API key as a bearer token; older clients send x-api-key (see the raw wire tests).
        Assert.Equal("Bearer k", request.GetHeader("Authorization"));
        Assert.False(string.IsNullOrEmpty(request.GetHeader("anthropic-version")));
        Assert.Equal("claude-recorded", request.Model);
        var json = request.BodyJson!.Value;
        Assert.Equal(256, json.GetProperty("max_tokens").GetInt32());
        Assert.Equal("user", json.GetProperty("messages")[0].GetProperty("role").GetString());
        Assert.Equal("Hello there", json.GetProperty("messages")[0].GetProperty("content").GetString());
    }
}
