using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Connections;
using Qlaud.Connectors.Tests.Fakes;
using Qlaud.Connectors.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.Connectors.Tests.Tools;

/// <summary>Streamed answers of the server-side tool loop over real HTTP: the model's text and the <c>mcp_tool_use</c> block reach
/// the client while the tool is still running on the (gated) fake Linear server, the <c>mcp_tool_result</c> when it finished, and
/// the events add up to the same message the non-streamed answer and the thread hold.</summary>
public sealed class ToolLoopStreamingTests
{
    private const string Key = "lin_api_stream_0123456789";

    private static FakeReply[] Script() =>
    [
        FakeReply.ToolCall("linear__create_issue", """{"title":"Live"}""", "call_live")
            with { Content = "Filing it now.", ChunkSize = 5, Usage = new FakeUsage { InputTokens = 300, OutputTokens = 20 } },
        FakeReply.Text("Filed ISS-1.") with { ChunkSize = 4, Usage = new FakeUsage { InputTokens = 400, OutputTokens = 9 } },
    ];

    [Fact]
    public async Task McpServersStream_RelaysTextAndToolUseBeforeTheToolAnswers_AndAddsUpToTheNonStreamAnswer()
    {
        await using var gated = await FakeMcpServer.StartAsync("Linear", Key);
        await using var plain = await FakeMcpServer.StartAsync("Linear", Key);
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Connectors:AllowPrivateNetworks"] = "true" });
        using var http = gateway.Http();
        gateway.Fake.Enqueue(Script());
        var (status, expected) = await http.PostJsonAsync("/v1/messages", Body(plain.Endpoint, stream: false));
        Assert.Equal(HttpStatusCode.OK, status);

        gated.HoldCalls();
        gateway.Fake.Enqueue(Script());
        using var response = await PostStreamAsync(http, "/v1/messages", Body(gated.Endpoint, stream: true));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var sse = new SseReader(await response.Content.ReadAsStreamAsync());

        var events = await ReadLiveUntilToolUseAsync(sse, gated);
        gated.ReleaseCalls();
        events.AddRange(await sse.ReadToEndAsync());

        AssertEventSequence(events);
        var message = Accumulate(events);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected.GetProperty("content").GetRawText()), message["content"]), message.ToJsonString());
        Assert.Equal(["text", "mcp_tool_use", "mcp_tool_result", "text"], message["content"]!.AsArray().Select(static b => (string?)b!["type"]));
        Assert.Equal(expected.GetProperty("stop_reason").GetString(), (string?)message["stop_reason"]);
        Assert.Equal(29, expected.GetProperty("usage").GetProperty("output_tokens").GetInt64());
        Assert.Equal(29, (long)message["usage"]!["output_tokens"]!); // both round trips
        Assert.Equal(700, expected.GetProperty("usage").GetProperty("input_tokens").GetInt64());
        Assert.Equal(700, (long)message["usage"]!["input_tokens"]!);
        Assert.Equal(Key, Assert.Single(gated.Calls).Key);
    }

    [Fact]
    public async Task ThreadTurnStream_IsLive_AndThePersistedReplyIsWhatWasStreamed()
    {
        await using var linear = await FakeMcpServer.StartAsync("Linear", Key);
        await using var gateway = await GatewayHost.StartAsync(settings: ConnectFlowTests.LinearSettings(linear));
        var (http, threadId) = await ConnectedThreadAsync(gateway);
        using var _ = http;

        linear.HoldCalls();
        gateway.Fake.Enqueue(Script());
        using var response = await PostStreamAsync(http, $"/v1/threads/{threadId}/messages",
            """{"max_tokens":256,"content":"File it","tools_mode":"static","stream":true}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(threadId, response.Headers.GetValues("x-qlaud-thread-id").Single());
        string replyId = response.Headers.GetValues("x-qlaud-message-id").Single();
        var sse = new SseReader(await response.Content.ReadAsStreamAsync());

        var events = await ReadLiveUntilToolUseAsync(sse, linear);
        linear.ReleaseCalls();
        events.AddRange(await sse.ReadToEndAsync());

        AssertEventSequence(events);
        var message = Accumulate(events);
        Assert.Equal("end_turn", (string?)message["stop_reason"]);
        var (_, list) = await http.GetJsonAsync($"/v1/threads/{threadId}/messages?order=asc");
        var stored = list.GetProperty("data").EnumerateArray().Last();
        Assert.Equal(replyId, stored.GetProperty("id").GetString());
        Assert.Equal("complete", stored.GetProperty("status").GetString());
        Assert.Equal("end_turn", stored.GetProperty("stop_reason").GetString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(stored.GetProperty("content").GetRawText()), message["content"]), stored.GetRawText());
        Assert.Equal(29, (long)message["usage"]!["output_tokens"]!);
        Assert.Equal(29, stored.GetProperty("usage").GetProperty("output_tokens").GetInt64());
        Assert.Equal(700, stored.GetProperty("usage").GetProperty("input_tokens").GetInt64());
        Assert.True(stored.GetProperty("cost_micros").GetInt64() > 0);

        // The same turn not streamed answers with the same blocks.
        var (_, other) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        gateway.Fake.Enqueue(Script());
        var (status, whole) = await http.PostJsonAsync($"/v1/threads/{other.GetProperty("id").GetString()}/messages",
            """{"max_tokens":256,"content":"File it","tools_mode":"static"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var wholeContent = JsonNode.Parse(whole.GetProperty("content").GetRawText())!;
        wholeContent[2]!["content"] = message["content"]![2]!["content"]!.DeepClone(); // the second issue is ISS-2
        Assert.True(JsonNode.DeepEquals(wholeContent, message["content"]), whole.GetRawText());
    }

    [Fact]
    public async Task ThreadTurnStream_FailingAfterItStarted_EndsWithAnErrorEvent_AndPersistsWhatWasGeneratedAsIncomplete()
    {
        await using var linear = await FakeMcpServer.StartAsync("Linear", Key);
        await using var gateway = await GatewayHost.StartAsync(settings: ConnectFlowTests.LinearSettings(linear));
        var (http, threadId) = await ConnectedThreadAsync(gateway);
        using var _ = http;

        gateway.Fake.Enqueue(Script()[0], FakeReply.Error(400, """{"type":"error","error":{"type":"invalid_request_error","message":"scripted refusal"}}"""));
        using var response = await PostStreamAsync(http, $"/v1/threads/{threadId}/messages",
            """{"max_tokens":256,"content":"File it","tools_mode":"static","stream":true}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadToEndAsync();

        Assert.Equal("message_start", events[0].Name);
        Assert.Equal("error", events[^1].Name);
        Assert.Equal("invalid_request_error", events[^1].Data.GetProperty("error").GetProperty("type").GetString());
        Assert.DoesNotContain(events, static e => e.Name == "message_stop");
        var (_, list) = await http.GetJsonAsync($"/v1/threads/{threadId}/messages?order=asc");
        var stored = list.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(2, stored.Count);
        Assert.Equal("incomplete", stored[1].GetProperty("status").GetString());
        Assert.Equal(["text", "mcp_tool_use", "mcp_tool_result"], stored[1].GetProperty("content").EnumerateArray().Select(static b => b.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task ThreadTurnStream_ClientGoneWhileTheToolRuns_PersistsTheTextAsIncomplete_WithoutTheUnansweredCall()
    {
        await using var linear = await FakeMcpServer.StartAsync("Linear", Key);
        await using var gateway = await GatewayHost.StartAsync(settings: ConnectFlowTests.LinearSettings(linear));
        var (http, threadId) = await ConnectedThreadAsync(gateway);
        using var _ = http;

        linear.HoldCalls();
        gateway.Fake.Enqueue(Script());
        using (var response = await PostStreamAsync(http, $"/v1/threads/{threadId}/messages",
            """{"max_tokens":256,"content":"File it","tools_mode":"static","stream":true}"""))
        {
            await ReadLiveUntilToolUseAsync(new SseReader(await response.Content.ReadAsStreamAsync()), linear);
        }

        // The client went away; the turn ends and keeps what was generated.
        JsonElement[] stored = [];
        for (int i = 0; i < 200 && stored.Length < 2; i++)
        {
            await Task.Delay(50);
            var (_, list) = await http.GetJsonAsync($"/v1/threads/{threadId}/messages?order=asc");
            stored = [.. list.GetProperty("data").EnumerateArray()];
        }

        linear.ReleaseCalls();
        Assert.Equal(2, stored.Length);
        Assert.Equal("incomplete", stored[1].GetProperty("status").GetString());
        var block = Assert.Single(stored[1].GetProperty("content").EnumerateArray());
        Assert.Equal(("text", "Filing it now."), (block.GetProperty("type").GetString(), block.GetProperty("text").GetString()));

        // The next turn sends that history to the model and is answered.
        gateway.Fake.ClearRequests();
        gateway.Fake.Enqueue(FakeReply.Text("Sorry, again?"));
        var (status, _) = await http.PostJsonAsync($"/v1/threads/{threadId}/messages", """{"max_tokens":256,"content":"Still there?","tools_mode":"none"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Filing it now.", gateway.Fake.Requests.Single().BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThreadTurnStream_ClientTool_IsAToolUseBlockWithItsInputAsAJsonDelta_AndStopsWithToolUse()
    {
        await using var linear = await FakeMcpServer.StartAsync("Linear", Key);
        await using var gateway = await GatewayHost.StartAsync(settings: ConnectFlowTests.LinearSettings(linear));
        using var http = gateway.Http();
        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        string threadId = thread.GetProperty("id").GetString()!;
        gateway.Fake.Enqueue(FakeReply.ToolCall("get_weather", """{"city":"Oslo"}""", "toolu_client") with { Content = "Checking." });
        using var response = await PostStreamAsync(http, $"/v1/threads/{threadId}/messages",
            """{"max_tokens":256,"content":"Weather?","stream":true,"tools_mode":"dynamic","tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}""");
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadToEndAsync();

        var start = events.Single(static e => e.Name == "content_block_start" && e.Data.GetProperty("content_block").GetProperty("type").GetString() == "tool_use");
        Assert.Equal("{}", start.Data.GetProperty("content_block").GetProperty("input").GetRawText());
        var message = Accumulate(events);
        Assert.Equal("tool_use", (string?)message["stop_reason"]);
        Assert.Equal("Oslo", (string?)message["content"]![1]!["input"]!["city"]);
        var (_, list) = await http.GetJsonAsync($"/v1/threads/{threadId}/messages?order=asc");
        var stored = list.GetProperty("data")[1];
        Assert.Equal("tool_use", stored.GetProperty("stop_reason").GetString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(stored.GetProperty("content").GetRawText()), message["content"]), stored.GetRawText());
        Assert.Single(gateway.Fake.Requests, static r => r.Path.Contains("messages", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ThreadTurnStream_FailingBeforeAnythingStreamed_AnswersTheErrorAndPersistsNothing()
    {
        await using var linear = await FakeMcpServer.StartAsync("Linear", Key);
        await using var gateway = await GatewayHost.StartAsync(settings: ConnectFlowTests.LinearSettings(linear));
        var (http, threadId) = await ConnectedThreadAsync(gateway);
        using var _ = http;

        gateway.Fake.Enqueue(FakeReply.Error(400, """{"type":"error","error":{"type":"invalid_request_error","message":"scripted refusal"}}"""));
        var (status, answer) = await http.PostJsonAsync($"/v1/threads/{threadId}/messages",
            """{"max_tokens":256,"content":"File it","tools_mode":"static","stream":true}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", answer.GetProperty("error").GetProperty("type").GetString());
        var (_, list) = await http.GetJsonAsync($"/v1/threads/{threadId}/messages");
        Assert.Equal(0, list.GetProperty("data").GetArrayLength());
    }

    /// <summary>Reads until the <c>mcp_tool_use</c> block: it (and the text before it) must come while the tool call waits on the
    /// gate; then waits (bounded) until the call is seen waiting, proving the stream ran ahead of the tool.</summary>
    private static async Task<List<SseEvent>> ReadLiveUntilToolUseAsync(SseReader sse, FakeMcpServer gated)
    {
        var events = new List<SseEvent>();
        while (true)
        {
            var e = await sse.NextAsync() ?? throw new InvalidOperationException("The stream ended before an mcp_tool_use block.");
            events.Add(e);
            Assert.NotEqual("message_stop", e.Name);
            if (e.Name == "content_block_start" && e.Data.GetProperty("content_block").GetProperty("type").GetString() == "mcp_tool_use")
            {
                break;
            }
        }

        Assert.Equal("message_start", events[0].Name);
        var deltas = events.Where(static e => e.Name == "content_block_delta").Select(static e => e.Data.GetProperty("delta").GetProperty("text").GetString()).ToList();
        Assert.True(deltas.Count >= 2, "text arrives as several deltas");
        Assert.Equal("Filing it now.", string.Concat(deltas));
        var use = events[^1].Data.GetProperty("content_block");
        Assert.Equal(("call_live", "create_issue", "linear", "Live"),
            (use.GetProperty("id").GetString(), use.GetProperty("name").GetString(), use.GetProperty("server_name").GetString(), use.GetProperty("input").GetProperty("title").GetString()));
        Assert.Empty(gated.Calls);
        for (int i = 0; i < 200 && gated.Waiting == 0; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(1, gated.Waiting);
        Assert.Empty(gated.Calls);
        return events;
    }

    private static void AssertEventSequence(List<SseEvent> events)
    {
        Assert.Single(events, static e => e.Name == "message_start");
        Assert.Equal("message_start", events[0].Name);
        Assert.Equal(["message_delta", "message_stop"], events.TakeLast(2).Select(static e => e.Name));
        var starts = events.Where(static e => e.Name == "content_block_start").Select(static e => e.Data.GetProperty("index").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(0, starts.Count), starts);
        int result = events.FindIndex(static e => e.Name == "content_block_start" && e.Data.GetProperty("content_block").GetProperty("type").GetString() == "mcp_tool_result");
        int use = events.FindIndex(static e => e.Name == "content_block_start" && e.Data.GetProperty("content_block").GetProperty("type").GetString() == "mcp_tool_use");
        Assert.True(use >= 0 && result > use);
        Assert.Equal("content_block_stop", events[use + 1].Name);
        Assert.Equal("content_block_stop", events[result + 1].Name);
    }

    /// <summary>The message the events make up, as Anthropic's stream accumulators build it.</summary>
    private static JsonObject Accumulate(List<SseEvent> events)
    {
        JsonObject? message = null;
        var partial = new Dictionary<int, StringBuilder>();
        foreach (var e in events)
        {
            var data = JsonNode.Parse(e.Data.GetRawText())!.AsObject();
            switch (e.Name)
            {
                case "message_start":
                    message = data["message"]!.AsObject().DeepClone().AsObject();
                    break;
                case "content_block_start":
                    message!["content"]!.AsArray().Add(data["content_block"]!.DeepClone());
                    Assert.Equal((int)data["index"]!, message["content"]!.AsArray().Count - 1);
                    break;
                case "content_block_delta":
                    var block = message!["content"]![(int)data["index"]!]!;
                    var delta = data["delta"]!;
                    if ((string?)delta["type"] == "text_delta")
                    {
                        block["text"] = (string?)block["text"] + (string?)delta["text"];
                    }
                    else if ((string?)delta["type"] == "input_json_delta")
                    {
                        int index = (int)data["index"]!;
                        (partial.TryGetValue(index, out var sb) ? sb : partial[index] = new StringBuilder()).Append((string?)delta["partial_json"]);
                        block["input"] = JsonNode.Parse(partial[index].ToString());
                    }

                    break;
                case "message_delta":
                    message!["stop_reason"] = data["delta"]!["stop_reason"]?.DeepClone();
                    foreach (var (name, value) in data["usage"]!.AsObject())
                    {
                        message["usage"]![name] = value?.DeepClone();
                    }

                    break;
            }
        }

        return message!;
    }

    private static async Task<(HttpClient Http, string ThreadId)> ConnectedThreadAsync(GatewayHost gateway)
    {
        var (_, alice) = await gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        var http = gateway.Http(alice);
        var (_, link) = await http.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");
        using (var browser = new ConnectBrowser())
        {
            await browser.ConnectAsync(new Uri(link.GetProperty("connect_url").GetString()!), Key);
        }

        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        return (http, thread.GetProperty("id").GetString()!);
    }

    private static async Task<HttpResponseMessage> PostStreamAsync(HttpClient http, string path, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    private static string Body(Uri server, bool stream) => $$"""
        {"model":"fake-gpt","max_tokens":256,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"File a ticket"}],
         "mcp_servers":[{"type":"url","url":"{{server.AbsoluteUri}}","name":"linear","authorization_token":"{{Key}}"}]}
        """;

    private sealed record SseEvent(string Name, JsonElement Data);

    /// <summary>Reads <c>event:</c>/<c>data:</c> pairs off a response body as they arrive; every read is bounded.</summary>
    private sealed class SseReader(Stream body)
    {
        private readonly StreamReader _reader = new(body, Encoding.UTF8);

        public async Task<SseEvent?> NextAsync()
        {
            string? name = null, data = null;
            while (true)
            {
                string? line = await _reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
                if (line is null)
                {
                    return null;
                }

                if (line.Length == 0)
                {
                    if (name is not null && data is not null)
                    {
                        return new SseEvent(name, JsonDocument.Parse(data).RootElement.Clone());
                    }

                    continue;
                }

                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data = line["data: ".Length..];
                }
            }
        }

        public async Task<List<SseEvent>> ReadToEndAsync()
        {
            var events = new List<SseEvent>();
            for (int i = 0; i < 10_000 && await NextAsync() is { } e; i++)
            {
                events.Add(e);
            }

            return events;
        }
    }
}
