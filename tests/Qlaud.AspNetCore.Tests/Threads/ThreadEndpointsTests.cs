using System.Net;
using System.Text.Json;
using Anthropic.Models.Messages;
using Microsoft.Data.Sqlite;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Threads;

/// <summary>
/// <c>/v1/threads</c> over real HTTP: turns answered as Anthropic Messages responses (read with the official SDK's models and
/// stream accumulator), persisted and paginated, routed to both dialects, serialized per thread, idempotent on retry, and
/// nothing kept when the upstream fails.
/// </summary>
public sealed class ThreadEndpointsTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Create_WithFields_AnswersTheThreadAndGetReadsItBack()
    {
        using var http = _gateway.Http();

        var (status, created) = await http.PostJsonAsync("/v1/threads", """{"end_user_id":"alice","title":"Trip","metadata":{"app":"demo"},"system":"Be brief.","model":"fake-claude"}""");
        var (getStatus, got) = await http.GetJsonAsync($"/v1/threads/{created.GetProperty("id").GetString()}");

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.StartsWith("thr_", created.GetProperty("id").GetString());
        Assert.Equal("thread", created.GetProperty("object").GetString());
        Assert.Equal("alice", created.GetProperty("end_user_id").GetString());
        Assert.Equal("demo", created.GetProperty("metadata").GetProperty("app").GetString());
        Assert.Equal(HttpStatusCode.OK, getStatus);
        Assert.Equal(created.GetRawText(), got.GetRawText());
    }

    [Theory]
    [InlineData("""{"title":5}""")]
    [InlineData("""{"metadata":{"a":1}}""")]
    [InlineData("""{"colour":"red"}""")]
    [InlineData("""[1]""")]
    public async Task Create_BadBody_400InTheAnthropicEnvelope(string json)
    {
        using var http = _gateway.Http();

        var (status, body) = await http.PostJsonAsync("/v1/threads", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("error", body.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", body.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Patch_TitleAndModel_ChangesOnlyThose()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync("""{"title":"Old","system":"Keep me."}""");

        var (status, patched) = await http.PatchJsonAsync($"/v1/threads/{id}", """{"title":"New","model":"fake-gpt"}""");
        var (badStatus, _) = await http.PatchJsonAsync($"/v1/threads/{id}", """{"end_user_id":"bob"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("New", patched.GetProperty("title").GetString());
        Assert.Equal("fake-gpt", patched.GetProperty("model").GetString());
        Assert.Equal("Keep me.", patched.GetProperty("system").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
    }

    [Fact]
    public async Task PostMessage_NonStream_AnthropicMessageWithThreadFieldsAndBothMessagesPersisted()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync("""{"system":"Be brief."}""");
        _gateway.Fake.Enqueue(FakeReply.Text("Hello, Ann.") with { Usage = new FakeUsage { InputTokens = 12, OutputTokens = 4 } });

        var (status, response, body) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Hi, I am Ann."));
        Message message = ThreadTestClient.ReadMessage(body);
        using var json = JsonDocument.Parse(body);
        var messages = await http.MessagesAsync(id);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Hello, Ann.", ThreadTestClient.Text(message));
        Assert.Equal(StopReason.EndTurn, message.StopReason!.Value());
        Assert.Equal(id, json.RootElement.GetProperty("thread_id").GetString());
        Assert.Equal(1, json.RootElement.GetProperty("context").GetProperty("messages_sent").GetInt32());
        Assert.Equal(id, response.Headers.GetValues("x-qlaud-thread-id").Single());
        Assert.Equal(json.RootElement.GetProperty("assistant_message_id").GetString(), response.Headers.GetValues("x-qlaud-message-id").Single());
        Assert.Equal(["user", "assistant"], messages.Select(static m => m.GetProperty("role").GetString()));
        Assert.Equal(json.RootElement.GetProperty("user_message_id").GetString(), messages[0].GetProperty("id").GetString());
        Assert.Equal("""[{"type":"text","text":"Hi, I am Ann."}]""", messages[0].GetProperty("content").GetRawText());
        Assert.Equal("Hello, Ann.", messages[1].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("complete", messages[1].GetProperty("status").GetString());
        Assert.Equal(12, messages[1].GetProperty("usage").GetProperty("input_tokens").GetInt64());
        Assert.Equal("fakeanthropic/upstream-claude", messages[1].GetProperty("route").GetString());
        Assert.Equal((12 * 3 + 4 * 15), messages[1].GetProperty("cost_micros").GetInt64()); // $3/$15 per MTok
        var upstream = Assert.Single(_gateway.Fake.Requests);
        Assert.Equal("""{"model":"upstream-claude","max_tokens":256,"system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"Hi, I am Ann."}]}]}""", upstream.BodyText);
    }

    [Fact]
    public async Task PostMessage_SecondTurn_SendsTheHistoryFirst()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync("""{"model":"fake-claude"}""");
        _gateway.Fake.Enqueue(FakeReply.Text("Noted."), FakeReply.Text("Ann."));

        await http.PostTurnAsync(id, ThreadTestClient.Turn("My name is Ann.", model: null));
        var (status, _, body) = await http.PostTurnAsync(id, ThreadTestClient.Turn("What is my name?", model: null));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Ann.", ThreadTestClient.Text(ThreadTestClient.ReadMessage(body)));
        Assert.Equal(
            """{"model":"upstream-claude","max_tokens":256,"messages":[{"role":"user","content":[{"type":"text","text":"My name is Ann."}]},{"role":"assistant","content":[{"type":"text","text":"Noted."}]},{"role":"user","content":[{"type":"text","text":"What is my name?"}]}]}""",
            _gateway.Fake.Requests[1].BodyText);
    }

    [Theory]
    [InlineData("fake-claude", "/v1/messages")]
    [InlineData("fake-gpt", "/v1/chat/completions")]
    public async Task PostMessage_Stream_SdkAccumulatesTheAnswerAndTheReplyIsPersisted(string model, string upstreamPath)
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync();
        _gateway.Fake.Enqueue(FakeReply.Text("Streaming into a thread.") with { ChunkSize = 4 }, FakeReply.Text("Second."));

        var (status, response, body) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Stream, please.", model, stream: true));
        Message streamed = await ThreadTestClient.AggregateStreamAsync(body);
        var messages = await http.MessagesAsync(id);
        var (secondStatus, _, _) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Again.", model));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("text/event-stream", response.Content.Headers.ContentType!.ToString());
        Assert.Equal("Streaming into a thread.", ThreadTestClient.Text(streamed));
        Assert.Equal(id, response.Headers.GetValues("x-qlaud-thread-id").Single());
        Assert.Equal(response.Headers.GetValues("x-qlaud-message-id").Single(), messages[1].GetProperty("id").GetString());
        Assert.Equal("""[{"type":"text","text":"Streaming into a thread."}]""", messages[1].GetProperty("content").GetRawText());
        Assert.Equal("complete", messages[1].GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, secondStatus);
        Assert.Equal(upstreamPath, _gateway.Fake.Requests[1].Path);
        Assert.Contains("Streaming into a thread.", _gateway.Fake.Requests[1].BodyText); // the translated history carried the streamed reply
    }

    [Fact]
    public async Task PostMessage_TranslatedRoute_ToolUseRepliesAndToolResultsTravelAsOpenAIToolCalls()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync("""{"model":"fake-gpt"}""");
        _gateway.Fake.Enqueue(FakeReply.ToolCall("get_weather", """{"city":"Oslo"}""", "call_1"), FakeReply.Text("Sunny."));
        const string tools = ""","tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]""";

        var (_, _, first) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Weather in Oslo?", model: null, extra: tools));
        var (status, _, second) = await http.PostTurnAsync(id, """{"max_tokens":100,"content":[{"type":"tool_result","tool_use_id":"call_1","content":"18 C, clear"}]""" + tools + "}");
        var messages = await http.MessagesAsync(id);

        Assert.Equal(StopReason.ToolUse, ThreadTestClient.ReadMessage(first).StopReason!.Value());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Sunny.", ThreadTestClient.Text(ThreadTestClient.ReadMessage(second)));
        Assert.Equal("tool_use", messages[1].GetProperty("content")[0].GetProperty("type").GetString());
        using var upstream = JsonDocument.Parse(_gateway.Fake.Requests[1].BodyText);
        var sent = upstream.RootElement.GetProperty("messages");
        Assert.Equal(["user", "assistant", "tool"], sent.EnumerateArray().Select(static m => m.GetProperty("role").GetString()));
        Assert.Equal("call_1", sent[1].GetProperty("tool_calls")[0].GetProperty("id").GetString());
        Assert.Equal("call_1", sent[2].GetProperty("tool_call_id").GetString());
    }

    [Fact]
    public async Task PostMessage_UpstreamFails_NothingPersistedNothingChargedAndARetrySucceeds()
    {
        var (keyId, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":1}""");
        using var http = _gateway.Http(secret);
        using var admin = _gateway.Http();
        string id = await http.CreateThreadAsync();
        _gateway.Fake.Enqueue(FakeReply.Error(500), FakeReply.Error(400), FakeReply.Text("Fine now."));

        var (serverError, _, _) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Hello?"));
        var (badRequest, _, relayed) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Hello?"));
        var afterFailures = await http.MessagesAsync(id);
        var (_, key) = await admin.GetJsonAsync($"/v1/keys/{keyId}");
        var (retried, _, _) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Hello?"));

        Assert.Equal(HttpStatusCode.InternalServerError, serverError); // as on /v1/messages: the upstream's status after the attempts
        Assert.Equal(HttpStatusCode.BadRequest, badRequest);
        Assert.Contains("invalid_request_error", relayed);
        Assert.Empty(afterFailures);
        Assert.Equal(0m, key.GetProperty("spend_usd").GetDecimal());
        Assert.Equal(HttpStatusCode.OK, retried);
        Assert.Equal(2, (await http.MessagesAsync(id)).Count);
    }

    [Fact]
    public async Task PostMessage_SameIdempotencyKeyTwice_SecondReturnsTheFirstAnswerWithoutATurn()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync();
        _gateway.Fake.Enqueue(FakeReply.Text("Only once."), FakeReply.Text("A second turn."));

        var (status, _, first) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Once?"), idempotencyKey: "turn-1");
        var (againStatus, again, second) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Once?"), idempotencyKey: "turn-1");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, againStatus);
        Assert.Equal(first, second);
        Assert.Equal("true", again.Headers.GetValues("x-qlaud-idempotent-replay").Single());
        Assert.Single(_gateway.Fake.Requests);
        Assert.Equal(2, (await http.MessagesAsync(id)).Count);
    }

    [Theory]
    [InlineData("fake-claude")]
    [InlineData("fake-gpt")]
    public async Task PostMessage_StreamedTurnRetriedWithItsIdempotencyKey_ReplaysTheSameEventsWithoutATurn(string model)
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync();
        _gateway.Fake.Enqueue(FakeReply.ToolCall("get_weather", "{\"city\":\"Oslo\"}", "toolu_9") with { ChunkSize = 3 }, FakeReply.Text("A second turn."));

        var (_, _, first) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Weather?", model, stream: true), idempotencyKey: "stream-1");
        var (status, again, second) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Weather?", model, stream: true), idempotencyKey: "stream-1");
        Message original = await ThreadTestClient.AggregateStreamAsync(first);
        Message replayed = await ThreadTestClient.AggregateStreamAsync(second);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("true", again.Headers.GetValues("x-qlaud-idempotent-replay").Single());
        Assert.StartsWith("text/event-stream", again.Content.Headers.ContentType!.ToString());
        Assert.Equal(StopReason.ToolUse, replayed.StopReason!.Value());
        Assert.True(replayed.Content.Single().TryPickToolUse(out var call));
        Assert.Equal("toolu_9", call.ID);
        Assert.Equal("Oslo", call.Input["city"].GetString());
        Assert.Equal(original.ID, replayed.ID);
        Assert.Single(_gateway.Fake.Requests);
        Assert.Equal(2, (await http.MessagesAsync(id)).Count);
    }

    [Fact]
    public async Task PostMessage_ThreeConcurrentPosts_SerializedInArrivalOrderNoneLost()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync();
        // The first turn stays upstream while the other two arrive and wait for it, well apart.
        _gateway.Fake.Responder = static request => FakeReply.Text("re: " + request.BodyText.Length) with
        {
            Latency = request.BodyText.Contains("\"one\"", StringComparison.Ordinal) && !request.BodyText.Contains("\"two\"", StringComparison.Ordinal)
                ? TimeSpan.FromSeconds(1.5) : TimeSpan.FromMilliseconds(20),
        };

        var posts = new List<Task<(HttpStatusCode, HttpResponseMessage, string)>> { http.PostTurnAsync(id, ThreadTestClient.Turn("one")) };
        await _gateway.Fake.WaitForRequestAsync();
        posts.Add(http.PostTurnAsync(id, ThreadTestClient.Turn("two")));
        await Task.Delay(500);
        posts.Add(http.PostTurnAsync(id, ThreadTestClient.Turn("three")));

        var answers = await Task.WhenAll(posts);
        var messages = await http.MessagesAsync(id);

        Assert.All(answers, static a => Assert.Equal(HttpStatusCode.OK, a.Item1));
        Assert.Equal(6, messages.Count);
        Assert.Equal(["one", "two", "three"], messages.Where(static m => m.GetProperty("role").GetString() == "user")
            .Select(static m => m.GetProperty("content")[0].GetProperty("text").GetString()));
        Assert.Equal(["user", "assistant", "user", "assistant", "user", "assistant"], messages.Select(static m => m.GetProperty("role").GetString()));
        using var third = JsonDocument.Parse(_gateway.Fake.Requests[2].BodyText);
        Assert.Equal(5, third.RootElement.GetProperty("messages").GetArrayLength()); // each turn saw the ones before it
    }

    [Fact]
    public async Task PostMessage_ClientDisconnectsMidStream_ReplyPersistedIncompleteWithWhatWasGenerated()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync();
        _gateway.Fake.Enqueue(FakeReply.Text("abcdefghijklmnopqrstuvwxyz0123456789") with { ChunkSize = 2, ChunkDelay = TimeSpan.FromMilliseconds(100) });

        // A client that does not drain an unfinished response: disposing it closes the connection.
        using (var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = _gateway.BaseUri })
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/threads/{id}/messages") { Content = new StringContent(ThreadTestClient.Turn("Go slowly.", stream: true), System.Text.Encoding.UTF8, "application/json") })
        {
            request.Headers.Add("x-api-key", GatewayHost.MasterKey);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[8192];
            int read = 0;
            while (read < buffer.Length && !System.Text.Encoding.UTF8.GetString(buffer, 0, read).Contains("\"ef\"", StringComparison.Ordinal))
            {
                read += await body.ReadAsync(buffer.AsMemory(read));
            }
        } // the client goes away here, mid-stream

        List<JsonElement> messages = [];
        for (int i = 0; i < 100 && messages.Count < 2; i++)
        {
            await Task.Delay(50);
            messages = await http.MessagesAsync(id);
        }

        Assert.Equal(2, messages.Count);
        Assert.Equal("incomplete", messages[1].GetProperty("status").GetString());
        string partial = messages[1].GetProperty("content")[0].GetProperty("text").GetString()!;
        Assert.StartsWith("abcdef", partial);
        Assert.True(partial.Length < 36, partial);
    }

    [Fact]
    public async Task PostMessage_BadBodies_400BeforeAnyUpstreamCall()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync();

        var (noModel, _, noModelBody) = await http.PostTurnAsync(id, ThreadTestClient.Turn("hi", model: null));
        var (noContent, _, _) = await http.PostTurnAsync(id, """{"model":"fake-claude","max_tokens":10}""");
        var (messagesField, _, _) = await http.PostTurnAsync(id, """{"model":"fake-claude","max_tokens":10,"content":"x","messages":[]}""");
        var (badBlock, _, _) = await http.PostTurnAsync(id, """{"model":"fake-claude","max_tokens":10,"content":[{"type":"image"}]}""");
        var (unknownThread, _, unknownBody) = await http.PostTurnAsync("thr_nope", ThreadTestClient.Turn("hi"));

        Assert.Equal(HttpStatusCode.BadRequest, noModel);
        Assert.StartsWith("'model' is required", JsonDocument.Parse(noModelBody).RootElement.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, noContent);
        Assert.Equal(HttpStatusCode.BadRequest, messagesField);
        Assert.Equal(HttpStatusCode.BadRequest, badBlock);
        Assert.Equal(HttpStatusCode.NotFound, unknownThread);
        Assert.Contains("not_found_error", unknownBody);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task List_ThreadsPagedBothWays_CursorsMeetWithoutGapsOrRepeats()
    {
        using var http = _gateway.Http();
        var ids = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            ids.Add(await http.CreateThreadAsync($$"""{"title":"t{{i}}"}"""));
        }

        var (_, page1) = await http.GetJsonAsync("/v1/threads?limit=2");
        var (_, page2) = await http.GetJsonAsync($"/v1/threads?limit=2&after={page1.GetProperty("last_id").GetString()}");
        var (_, page3) = await http.GetJsonAsync($"/v1/threads?limit=2&after={page2.GetProperty("last_id").GetString()}");
        var (_, back) = await http.GetJsonAsync($"/v1/threads?limit=2&before={page3.GetProperty("first_id").GetString()}");
        var (_, ascending) = await http.GetJsonAsync("/v1/threads?order=asc&limit=3");
        var (badCursor, _) = await http.GetJsonAsync("/v1/threads?after=thr_unknown");

        ids.Reverse();
        Assert.Equal(ids[..2], Ids(page1));
        Assert.True(page1.GetProperty("has_more").GetBoolean());
        Assert.Equal(ids[2..4], Ids(page2));
        Assert.Equal(ids[4..], Ids(page3));
        Assert.False(page3.GetProperty("has_more").GetBoolean());
        Assert.Equal(ids[2..4], Ids(back));
        Assert.True(back.GetProperty("has_more").GetBoolean());
        Assert.Equal(Enumerable.Reverse(ids).Take(3), Ids(ascending));
        Assert.Equal(HttpStatusCode.BadRequest, badCursor);
    }

    [Fact]
    public async Task ListMessages_PagedBothWays_InTurnOrder()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync();
        for (int i = 0; i < 3; i++)
        {
            await http.PostTurnAsync(id, ThreadTestClient.Turn("turn " + i));
        }

        var all = (await http.MessagesAsync(id)).Select(static m => m.GetProperty("id").GetString()!).ToList();
        var (_, first) = await http.GetJsonAsync($"/v1/threads/{id}/messages?order=asc&limit=4");
        var (_, rest) = await http.GetJsonAsync($"/v1/threads/{id}/messages?order=asc&limit=4&after={first.GetProperty("last_id").GetString()}");
        var (_, newest) = await http.GetJsonAsync($"/v1/threads/{id}/messages?limit=2");
        var (_, older) = await http.GetJsonAsync($"/v1/threads/{id}/messages?limit=2&after={newest.GetProperty("last_id").GetString()}");
        var (_, newerAgain) = await http.GetJsonAsync($"/v1/threads/{id}/messages?limit=2&before={older.GetProperty("first_id").GetString()}");

        Assert.Equal(6, all.Count);
        Assert.Equal(all[..4], Ids(first));
        Assert.True(first.GetProperty("has_more").GetBoolean());
        Assert.Equal(all[4..], Ids(rest));
        Assert.False(rest.GetProperty("has_more").GetBoolean());
        Assert.Equal([all[5], all[4]], Ids(newest));
        Assert.Equal([all[3], all[2]], Ids(older));
        Assert.Equal([all[5], all[4]], Ids(newerAgain));
        Assert.False(newerAgain.GetProperty("has_more").GetBoolean());
    }

    [Fact]
    public async Task Delete_Thread_GoneWithItsMessages()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync();
        await http.PostTurnAsync(id, ThreadTestClient.Turn("hello"));

        var (status, deleted) = await http.DeleteJsonAsync($"/v1/threads/{id}");
        var (getStatus, _) = await http.GetJsonAsync($"/v1/threads/{id}");
        var (messagesStatus, _) = await http.GetJsonAsync($"/v1/threads/{id}/messages");
        var (againStatus, _) = await http.DeleteJsonAsync($"/v1/threads/{id}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(deleted.GetProperty("deleted").GetBoolean());
        Assert.Equal(HttpStatusCode.NotFound, getStatus);
        Assert.Equal(HttpStatusCode.NotFound, messagesStatus);
        Assert.Equal(HttpStatusCode.NotFound, againStatus);
        await using var connection = new SqliteConnection(_gateway.Services.GetConnectionString());
        await connection.OpenAsync();
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM thread_messages";
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
    }

    private static List<string> Ids(JsonElement page) => [.. page.GetProperty("data").EnumerateArray().Select(static t => t.GetProperty("id").GetString()!)];
}
