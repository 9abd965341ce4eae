using System.Net;
using System.Text.Json;

namespace Qlaud.FakeProvider.Tests.Anthropic;

/// <summary>The Anthropic event stream and error shapes byte for byte, read with a raw <see cref="HttpClient"/>.</summary>
public sealed class AnthropicWireStreamTests
{
    private const string StreamRequest = """{"model":"claude-raw","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hi"}]}""";
    private static readonly (string, string)[] s_anthropicHeaders = [("x-api-key", "k"), ("anthropic-version", "2023-06-01")];

    [Fact]
    public async Task Stream_EveryEvent_NamesItsTypeInBothTheEventLineAndTheJson()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.TextWithReasoning("hmm", "Hi!") with { ToolCalls = [new FakeToolCall("f", """{"a":1}""")] });
        using var http = TestClients.Raw(fake);

        using var response = await TestClients.PostStreamingAsync(http, "/v1/messages", StreamRequest, default, s_anthropicHeaders);
        var events = await TestClients.ReadEventsAsync(response);

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.All(events, e =>
        {
            using var json = JsonDocument.Parse(e.Data);
            Assert.Equal(e.EventType, json.RootElement.GetProperty("type").GetString());
        });
        Assert.Equal(
            [
                "message_start",
                "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_stop",
                "content_block_start", "content_block_delta", "content_block_stop",
                "content_block_start", "content_block_delta", "content_block_stop",
                "message_delta", "message_stop",
            ],
            events.Select(e => e.EventType));
    }

    [Fact]
    public async Task Stream_MessageStart_CarriesEmptyContentAndPromptUsage()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Text("x") with { Usage = new FakeUsage { InputTokens = 11, CachedTokens = 5, CacheCreationTokens = 3, OutputTokens = 9 } });
        using var http = TestClients.Raw(fake);

        using var response = await TestClients.PostStreamingAsync(http, "/v1/messages", StreamRequest, default, s_anthropicHeaders);
        var events = await TestClients.ReadEventsAsync(response);

        using var start = JsonDocument.Parse(events[0].Data);
        var message = start.RootElement.GetProperty("message");
        Assert.Equal("claude-raw", message.GetProperty("model").GetString());
        Assert.Equal(0, message.GetProperty("content").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, message.GetProperty("stop_reason").ValueKind);
        var usage = message.GetProperty("usage");
        Assert.Equal(11, usage.GetProperty("input_tokens").GetInt32());
        Assert.Equal(5, usage.GetProperty("cache_read_input_tokens").GetInt32());
        Assert.Equal(3, usage.GetProperty("cache_creation_input_tokens").GetInt32());

        using var delta = JsonDocument.Parse(events.Single(e => e.EventType == "message_delta").Data);
        Assert.Equal(9, delta.RootElement.GetProperty("usage").GetProperty("output_tokens").GetInt32());
        Assert.Equal("end_turn", delta.RootElement.GetProperty("delta").GetProperty("stop_reason").GetString());
    }

    [Fact]
    public async Task Stream_CutOffWithErrorEvent_EndsWithOverloadedErrorEvent()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.CutOff("0123456789", afterChunks: 2, withErrorEvent: true) with { ChunkSize = 3 });
        using var http = TestClients.Raw(fake);

        using var response = await TestClients.PostStreamingAsync(http, "/v1/messages", StreamRequest, default, s_anthropicHeaders);
        var events = await TestClients.ReadEventsAsync(response);

        Assert.Equal(2, events.Count(e => e.EventType == "content_block_delta"));
        Assert.Equal("error", events[^1].EventType);
        using var error = JsonDocument.Parse(events[^1].Data);
        Assert.Equal("overloaded_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.DoesNotContain(events, e => e.EventType == "message_stop");
    }

    [Fact]
    public async Task Stream_CutOff_DeliversThatManyDeltasThenDropsTheConnection()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.CutOff("0123456789", afterChunks: 3) with { ChunkSize = 2 });
        using var http = TestClients.Raw(fake);

        using var response = await TestClients.PostStreamingAsync(http, "/v1/messages", StreamRequest, default, s_anthropicHeaders);
        var received = new List<string>();
        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            await using var stream = await response.Content.ReadAsStreamAsync();
            await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(stream).EnumerateAsync())
            {
                received.Add(item.EventType);
            }
        });

        Assert.Equal(3, received.Count(t => t == "content_block_delta"));
        Assert.DoesNotContain("message_stop", received);
    }

    [Fact]
    public async Task Messages_NoCredentials_Returns401InAnthropicShape()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Text("queued"));
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/messages", TestClients.Json("""{"model":"c","max_tokens":5,"messages":[]}"""));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("error", json.RootElement.GetProperty("type").GetString());
        Assert.Equal("authentication_error", json.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(1, fake.PendingReplies);
        Assert.Single(fake.Requests);
    }

    [Fact]
    public async Task Messages_XApiKey_IsAcceptedAndRecorded()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = TestClients.Raw(fake);

        using var response = await TestClients.PostStreamingAsync(http, "/v1/messages", """{"model":"c","max_tokens":5,"messages":[]}""", default, s_anthropicHeaders);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var request = Assert.Single(fake.Requests);
        Assert.Equal("k", request.GetHeader("x-api-key"));
        Assert.Equal("2023-06-01", request.GetHeader("Anthropic-Version"));
    }

    [Fact]
    public async Task Messages_MissingMaxTokens_Returns400InAnthropicShape()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = TestClients.Raw(fake);

        using var response = await TestClients.PostStreamingAsync(http, "/v1/messages", """{"model":"c","messages":[]}""", default, s_anthropicHeaders);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("invalid_request_error", json.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("max_tokens: Field required", json.RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Messages_StopSequence_IsReportedWithItsReason()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Text("one two") with { FinishReason = FakeFinishReason.StopSequence, StopSequence = "END" });
        using var http = TestClients.Raw(fake);

        using var response = await TestClients.PostStreamingAsync(http, "/v1/messages", """{"model":"c","max_tokens":5,"messages":[]}""", default, s_anthropicHeaders);

        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("stop_sequence", json.RootElement.GetProperty("stop_reason").GetString());
        Assert.Equal("END", json.RootElement.GetProperty("stop_sequence").GetString());
    }

    [Fact]
    public async Task Models_AnthropicClient_GetsAnthropicModelPage()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = TestClients.Raw(fake);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request);

        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var model = json.RootElement.GetProperty("data")[0];
        Assert.Equal("model", model.GetProperty("type").GetString());
        Assert.Equal("fake-model", model.GetProperty("id").GetString());
        Assert.False(json.RootElement.GetProperty("has_more").GetBoolean());
    }
}
