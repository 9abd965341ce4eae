using System.Net;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Threads;

namespace Qlaud.AspNetCore.Tests.Threads;

/// <summary>The <c>truncate</c> context strategy over HTTP: the oldest whole turns go, a tool call never loses its result,
/// the system prompt stays, and the answer's <c>context</c> says what was dropped.</summary>
public sealed class ContextWindowTests : IAsyncLifetime
{
    private const string Tools = ""","tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]""";

    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
    {
        // A model with a small context window on the Anthropic-dialect fake.
        ["Qlaud:Models:2:Id"] = "tiny-claude",
        ["Qlaud:Models:2:ContextLength"] = "1000",
        ["Qlaud:Models:2:Routes:0:Provider"] = "fakeanthropic",
        ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "upstream-tiny",
        ["Qlaud:Models:2:Routes:0:InputPerMTok"] = "1",
        ["Qlaud:Models:2:Routes:0:OutputPerMTok"] = "1",
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task PostMessage_HistoryOverTheWindow_DropsTheOldestTurnWithItsToolPairAndKeepsTheSystemPrompt()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync("""{"model":"tiny-claude","system":"You are terse."}""");
        _gateway.Fake.Enqueue(
            FakeReply.ToolCall("get_weather", """{"city":"Oslo"}""", "toolu_1"),
            FakeReply.Text("Sunny in Oslo."),
            FakeReply.Text("Yes."),
            FakeReply.Text("Done."));

        // Turn 1 is long (about 500 tokens of prose) and ends in a tool call; turn 2 answers it with a tool result.
        await http.PostTurnAsync(id, ThreadTestClient.Turn(string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 50)) + "Weather in Oslo?", model: null, maxTokens: 100, extra: Tools));
        var (toolTurn, _, _) = await http.PostTurnAsync(id, """{"max_tokens":100,"content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"18 C"}]""" + Tools + "}");
        await http.PostTurnAsync(id, ThreadTestClient.Turn("Short one.", model: null, maxTokens: 100, extra: Tools));
        // Now 500 more output tokens do not fit with turn 1: it goes, and its tool result with it, though the result alone would fit.
        var (status, _, body) = await http.PostTurnAsync(id, ThreadTestClient.Turn("And now?", model: null, maxTokens: 500, extra: Tools));

        Assert.Equal(HttpStatusCode.OK, toolTurn);
        Assert.Equal(HttpStatusCode.OK, status);
        using var answer = JsonDocument.Parse(body);
        var context = answer.RootElement.GetProperty("context");
        Assert.Equal("truncate", context.GetProperty("strategy").GetString());
        Assert.Equal(4, context.GetProperty("messages_dropped").GetInt32());
        Assert.Equal(3, context.GetProperty("messages_sent").GetInt32());
        using var sent = JsonDocument.Parse(_gateway.Fake.Requests[3].BodyText);
        Assert.Equal("You are terse.", sent.RootElement.GetProperty("system").GetString());
        var messages = sent.RootElement.GetProperty("messages");
        Assert.Equal(["Short one.", "Yes.", "And now?"], messages.EnumerateArray().Select(static m => m.GetProperty("content")[0].GetProperty("text").GetString()));
        Assert.DoesNotContain("tool_result", sent.RootElement.GetRawText());
        Assert.Equal(8, (await http.MessagesAsync(id)).Count); // truncation changes what is sent, never what is stored
    }

    [Fact]
    public async Task PostMessage_NewTurnAloneOverTheWindow_400ContextLengthExceededWithoutAnUpstreamCall()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync("""{"model":"tiny-claude"}""");

        var (status, _, body) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Hello.", model: null, maxTokens: 2000));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains("does not fit the context length of 'tiny-claude' (1000 tokens)", error.GetProperty("message").GetString());
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task PostMessage_EachMessageStoredWithItsTokenCount_LaterTurnsFitWithTheStoredCountsWithoutRecounting()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync("""{"model":"tiny-claude"}""");
        _gateway.Fake.Enqueue(FakeReply.Text("Noted, the code word is heron."), FakeReply.Text("Two."), FakeReply.Text("Three."));
        await http.PostTurnAsync(id, ThreadTestClient.Turn("Remember the code word.", model: null, maxTokens: 100));
        await http.PostTurnAsync(id, ThreadTestClient.Turn("Second question.", model: null, maxTokens: 100));
        await using var connection = new SqliteConnection(_gateway.Services.GetConnectionString());
        await connection.OpenAsync();
        var stored = new List<(string Role, string Content, long Tokens)>();
        await using (var read = connection.CreateCommand())
        {
            read.CommandText = $"SELECT Role, ContentJson, ContextTokens FROM thread_messages WHERE ThreadId = '{id}' ORDER BY Seq";
            await using var reader = await read.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                stored.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
            }
        }

        // A stored count larger than the window: the next turn believes it and drops the first turn, though its text is short.
        await using (var inflate = connection.CreateCommand())
        {
            inflate.CommandText = $"UPDATE thread_messages SET ContextTokens = 5000 WHERE ThreadId = '{id}' AND Seq = 0";
            await inflate.ExecuteNonQueryAsync();
        }

        var (status, _, body) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Third question.", model: null, maxTokens: 100));

        Assert.Equal(4, stored.Count);
        Assert.All(stored, static m => Assert.Equal(ContextWindow.Estimate(m.Role, m.Content), m.Tokens));
        Assert.Equal(HttpStatusCode.OK, status);
        var context = JsonDocument.Parse(body).RootElement.GetProperty("context");
        Assert.Equal(2, context.GetProperty("messages_dropped").GetInt32());
        Assert.Equal(3, context.GetProperty("messages_sent").GetInt32());
        Assert.DoesNotContain("heron", _gateway.Fake.Requests[2].BodyText);
    }
}
