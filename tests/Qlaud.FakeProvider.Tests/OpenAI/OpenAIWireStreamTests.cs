using System.Net;
using System.Text;
using System.Text.Json;

namespace Qlaud.FakeProvider.Tests.OpenAI;

/// <summary>The OpenAI event stream byte for byte, read with a raw <see cref="HttpClient"/>.</summary>
public sealed class OpenAIWireStreamTests
{
    private const string StreamRequest = """{"model":"gpt-raw","stream":true,"messages":[{"role":"user","content":"Hi"}]}""";
    private const string StreamRequestWithUsage = """{"model":"gpt-raw","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}""";

    [Fact]
    public async Task Stream_WithoutIncludeUsage_HasNoUsageAnywhere()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json(StreamRequest));
        var events = await TestClients.ReadEventsAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("[DONE]", events[^1].Data);
        var chunks = Chunks(events);
        Assert.All(chunks, chunk => Assert.False(chunk.TryGetProperty("usage", out _)));
        Assert.All(chunks, chunk => Assert.Equal(1, chunk.GetProperty("choices").GetArrayLength()));
    }

    [Fact]
    public async Task Stream_WithIncludeUsage_HasExactlyOneUsageChunkBeforeDone()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json(StreamRequestWithUsage));
        var events = await TestClients.ReadEventsAsync(response);

        var chunks = Chunks(events);
        var withUsage = chunks.Where(c => c.GetProperty("usage").ValueKind == JsonValueKind.Object).ToList();
        var usageChunk = Assert.Single(withUsage);
        Assert.Equal(chunks[^1], usageChunk);
        Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
        Assert.True(usageChunk.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > 0);
        Assert.True(usageChunk.GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 0);
        Assert.All(chunks.SkipLast(1), c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
        Assert.Equal("[DONE]", events[^1].Data);
    }

    [Fact]
    public async Task Stream_Chunks_FollowTheChunkObjectShape()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Text("abcdefghij") with { ChunkSize = 3 });
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json(StreamRequest));
        var chunks = Chunks(await TestClients.ReadEventsAsync(response));

        Assert.Equal(6, chunks.Count); // role, 4 content, finish
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.All(chunks, c =>
        {
            Assert.StartsWith("chatcmpl-", c.GetProperty("id").GetString(), StringComparison.Ordinal);
            Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString());
            Assert.Equal("gpt-raw", c.GetProperty("model").GetString());
            Assert.Equal(JsonValueKind.Number, c.GetProperty("created").ValueKind);
            var choice = c.GetProperty("choices")[0];
            Assert.Equal(0, choice.GetProperty("index").GetInt32());
            Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        });

        var first = chunks[0].GetProperty("choices")[0].GetProperty("delta");
        Assert.Equal("assistant", first.GetProperty("role").GetString());
        Assert.Equal(["abc", "def", "ghi", "j"], chunks.Skip(1).Take(4).Select(c => c.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString()));
        Assert.All(chunks.SkipLast(1), c => Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
        Assert.Equal("stop", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Stream_Reasoning_SendsReasoningContentDeltasBeforeContent()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.TextWithReasoning("First think.", "Then answer.") with { ChunkSize = 6 });
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json(StreamRequest));
        var deltas = Chunks(await TestClients.ReadEventsAsync(response)).Select(c => c.GetProperty("choices")[0].GetProperty("delta")).ToList();

        var kinds = deltas.Skip(1).SkipLast(1).Select(d => d.TryGetProperty("reasoning_content", out _) ? "reasoning" : "content").ToList();
        Assert.Equal(["reasoning", "reasoning", "content", "content"], kinds);
        var reasoning = string.Concat(deltas.Where(d => d.TryGetProperty("reasoning_content", out _)).Select(d => d.GetProperty("reasoning_content").GetString()));
        var content = string.Concat(deltas.Where(d => d.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String).Select(d => d.GetProperty("content").GetString()));
        Assert.Equal("First think.", reasoning);
        Assert.Equal("Then answer.", content);
    }

    [Fact]
    public async Task Stream_ToolCalls_FirstFragmentCarriesIdTypeAndName()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.ToolCall(new FakeToolCall("a", """{"x":1}""", "call_a"), new FakeToolCall("b", """{"y":2}""", "call_b")) with { ChunkSize = 3 });
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json(StreamRequest));
        var chunks = Chunks(await TestClients.ReadEventsAsync(response));

        var calls = chunks.Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("tool_calls", out _))
            .Select(d => Assert.Single(d.GetProperty("tool_calls").EnumerateArray()))
            .ToList();
        var headers = calls.Where(c => c.TryGetProperty("id", out _)).ToList();
        Assert.Equal(2, headers.Count);
        Assert.All(headers, h =>
        {
            Assert.Equal("function", h.GetProperty("type").GetString());
            Assert.Equal("", h.GetProperty("function").GetProperty("arguments").GetString());
        });
        Assert.Equal([0, 1], headers.Select(h => h.GetProperty("index").GetInt32()));
        Assert.Equal(["a", "b"], headers.Select(h => h.GetProperty("function").GetProperty("name").GetString()));
        Assert.All(calls.Except(headers), c => Assert.False(c.GetProperty("function").TryGetProperty("name", out _)));
        Assert.Equal("tool_calls", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Stream_Emoji_IsNeverSplitInsideASurrogatePair()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        const string text = "a😀b😀c😀";
        fake.Enqueue(FakeReply.Text(text) with { ChunkSize = 2 });
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json(StreamRequest));
        var pieces = Chunks(await TestClients.ReadEventsAsync(response)).Skip(1).SkipLast(1)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString()!)
            .ToList();

        Assert.Equal(text, string.Concat(pieces));
        Assert.All(pieces, p => Assert.False(char.IsHighSurrogate(p[^1])));
    }

    [Fact]
    public async Task Stream_CutOff_DeliversThatManyDeltasThenDropsTheConnection()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.CutOff("0123456789abcdef", afterChunks: 2) with { ChunkSize = 4 });
        using var http = TestClients.Raw(fake);

        using var response = await TestClients.PostStreamingAsync(http, "/v1/chat/completions", StreamRequest);
        var received = new List<string>();
        var ex = await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            await using var stream = await response.Content.ReadAsStreamAsync();
            await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(stream).EnumerateAsync())
            {
                received.Add(item.Data);
            }
        });

        Assert.NotNull(ex);
        Assert.Equal(3, received.Count); // role chunk + two content deltas
        Assert.DoesNotContain("[DONE]", received);
        var recorded = Assert.Single(fake.Requests);
        await recorded.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(recorded.Cancelled);
    }

    [Fact]
    public async Task Stream_CutOffWithErrorEvent_EndsWithErrorEnvelopeInsteadOfDone()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.CutOff("0123456789", afterChunks: 1, withErrorEvent: true) with { ChunkSize = 4 });
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json(StreamRequest));
        var events = await TestClients.ReadEventsAsync(response);

        Assert.Equal(3, events.Count);
        using var last = JsonDocument.Parse(events[^1].Data);
        Assert.Equal("server_error", last.RootElement.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Complete_NonStreamCutOff_SendsHeadersThenDropsTheConnection()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.CutOff("never delivered", afterChunks: 0));
        using var http = TestClients.Raw(fake);

        using var response = await TestClients.PostStreamingAsync(http, "/v1/chat/completions", """{"model":"m","messages":[]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => response.Content.ReadAsStringAsync());
        Assert.IsAssignableFrom<IOException>(ex.InnerException);
    }

    [Theory]
    [InlineData("""{"messages":[]}""", "you must provide a model parameter")]
    [InlineData("""{"model":""", "We could not parse the JSON body of your request.")]
    public async Task Complete_InvalidRequest_Returns400InOpenAIShapeWithoutConsumingTheQueue(string body, string message)
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Text("queued"));
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(message, json.RootElement.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal("invalid_request_error", json.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(1, fake.PendingReplies);
    }

    [Fact]
    public async Task Request_UnknownPath_Returns404InOpenAIShape()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = TestClients.Raw(fake);

        using var response = await http.GetAsync("/v1/nothing-here?x=1");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("invalid_request_error", json.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("/v1/nothing-here?x=1", Assert.Single(fake.Requests).Path);
    }

    [Fact]
    public async Task Complete_ScriptedErrorBody_IsSentVerbatimWithHeaders()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        const string body = """{"error":{"message":"quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}""";
        fake.Enqueue(FakeReply.Error(429, body, new Dictionary<string, string> { ["x-ratelimit-remaining-requests"] = "0" }));
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json("""{"model":"m","messages":[]}"""));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(body, await response.Content.ReadAsStringAsync(), StringComparer.Ordinal);
        Assert.Equal("0", response.Headers.GetValues("x-ratelimit-remaining-requests").Single());
    }

    private static List<JsonElement> Chunks(List<System.Net.ServerSentEvents.SseItem<string>> events)
    {
        Assert.All(events, e => Assert.Equal("message", e.EventType));
        return [.. events.Where(e => e.Data != "[DONE]").Select(e => JsonDocument.Parse(Encoding.UTF8.GetBytes(e.Data)).RootElement)];
    }
}
