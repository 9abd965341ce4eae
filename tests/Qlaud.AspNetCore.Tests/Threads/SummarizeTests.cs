using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.AspNetCore.Tests.Threads;

/// <summary>The <c>summarize</c> context strategy over HTTP: the oldest turns are folded into a summary written by
/// <c>Qlaud:Threads:SummaryModel</c> (routed and metered to the same key), stored on the thread, sent in the system prompt and
/// reused by later turns until the next fold.</summary>
public sealed class SummarizeTests : IAsyncLifetime
{
    private static readonly string LongText = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 50));

    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
    {
        ["Qlaud:Models:2:Id"] = "tiny-claude",
        ["Qlaud:Models:2:ContextLength"] = "1000",
        ["Qlaud:Models:2:Routes:0:Provider"] = "fakeanthropic",
        ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "upstream-tiny",
        ["Qlaud:Models:2:Routes:0:InputPerMTok"] = "1",
        ["Qlaud:Models:2:Routes:0:OutputPerMTok"] = "1",
        // Summaries by the OpenAI-dialect model: the summary call is translated like any other call.
        ["Qlaud:Threads:SummaryModel"] = "fake-gpt",
        ["Qlaud:Threads:SummaryMaxTokens"] = "100",
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task PostMessage_HistoryOverTheWindow_FoldsTheOldestTurnIntoAStoredSummaryChargedToTheKeyAndTheNextTurnReusesIt()
    {
        var (keyId, secret) = await _gateway.MintKeyAsync("""{"name":"erin","end_user_id":"erin"}""");
        using var http = _gateway.Http(secret);
        string id = await http.CreateThreadAsync("""{"model":"tiny-claude","system":"You are terse.","context":{"strategy":"summarize"}}""");
        _gateway.Fake.Enqueue(
            FakeReply.Text("Noted."),
            FakeReply.Text("Ok."),
            FakeReply.Text("The user's code word is heron.") with { Usage = new FakeUsage { InputTokens = 700, OutputTokens = 9 } },
            FakeReply.Text("Done."),
            FakeReply.Text("Fine."));

        await http.PostTurnAsync(id, ThreadTestClient.Turn("My code word is heron. " + LongText, model: null, maxTokens: 100));
        await http.PostTurnAsync(id, ThreadTestClient.Turn("Second.", model: null, maxTokens: 100));
        // 500 output tokens do not fit with the first turn: it is folded into a summary before the turn's own call.
        var (status, response, body) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Third.", model: null, maxTokens: 500));
        var (_, thread) = await http.GetJsonAsync($"/v1/threads/{id}");
        var (nextStatus, _, nextBody) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Fourth.", model: null, maxTokens: 500));

        Assert.Equal(HttpStatusCode.OK, status);
        var context = JsonDocument.Parse(body).RootElement.GetProperty("context");
        Assert.Equal("summarize", context.GetProperty("strategy").GetString());
        Assert.Equal(2, context.GetProperty("summarized_messages").GetInt32());
        Assert.True(context.GetProperty("summary_updated").GetBoolean());
        Assert.Equal(0, context.GetProperty("messages_dropped").GetInt32());
        Assert.Equal(3, context.GetProperty("messages_sent").GetInt32());
        Assert.Equal("2", response.Headers.GetValues("x-qlaud-context-messages-summarized").Single());

        // The summary call: the summary model, its max_tokens, the instructions and the transcript of the folded turn.
        var summaryCall = _gateway.Fake.Requests[2];
        Assert.Equal("/v1/chat/completions", summaryCall.Path);
        using var summaryRequest = JsonDocument.Parse(summaryCall.BodyText);
        Assert.Equal("upstream-gpt", summaryRequest.RootElement.GetProperty("model").GetString());
        var summaryMessages = summaryRequest.RootElement.GetProperty("messages");
        Assert.Equal("system", summaryMessages[0].GetProperty("role").GetString());
        Assert.StartsWith("You keep the running summary of a conversation", summaryMessages[0].GetProperty("content").GetString());
        string transcript = summaryMessages[1].GetProperty("content").GetString()!;
        Assert.StartsWith("Conversation to summarize:\nUser: My code word is heron. The quick brown fox", transcript);
        Assert.Contains("\nAssistant: Noted.\n", transcript);
        Assert.DoesNotContain("Second.", transcript);
        Assert.EndsWith("Write the summary.", transcript);

        // The turn's call: the summary in the system prompt, the folded turn left out.
        using var turnRequest = JsonDocument.Parse(_gateway.Fake.Requests[3].BodyText);
        Assert.Equal("You are terse.\n\nSummary of the earlier part of this conversation:\nThe user's code word is heron.",
            turnRequest.RootElement.GetProperty("system").GetString());
        Assert.Equal(["Second.", "Ok.", "Third."],
            turnRequest.RootElement.GetProperty("messages").EnumerateArray().Select(static m => m.GetProperty("content")[0].GetProperty("text").GetString()));

        // The stored summary, and the ledger row of its call, charged to the same key and end user at the summary model.
        var summary = thread.GetProperty("context").GetProperty("summary");
        Assert.Equal("summarize", thread.GetProperty("context").GetProperty("strategy").GetString());
        Assert.Equal("The user's code word is heron.", summary.GetProperty("text").GetString());
        Assert.Equal(2, summary.GetProperty("summarized_messages").GetInt32());
        string summaryRequestId = summary.GetProperty("request_id").GetString()!;
        await _gateway.Services.GetRequiredService<LedgerWriter>().FlushAsync(default);
        var factory = _gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using (var db = await factory.CreateDbContextAsync())
        {
            var row = await db.LedgerEntries.AsNoTracking().SingleAsync(e => e.RequestId == summaryRequestId);
            Assert.Equal(LedgerEntryKind.Usage, row.Kind);
            Assert.Equal(keyId, row.KeyId);
            Assert.Equal("erin", row.EndUserId);
            Assert.Equal("fake-gpt", row.Model);
            Assert.Equal(700, row.InputTokens);
            Assert.Equal(9, row.OutputTokens);
            Assert.Equal(700 * 1 + 9 * 2, row.CostMicros); // $1/$2 per MTok
            Assert.Equal(5, await db.LedgerEntries.CountAsync(e => e.KeyId == keyId && e.Kind == LedgerEntryKind.Usage)); // four turns and the summary
        }

        // The next turn fits with the stored summary: one upstream call, the same summary sent again.
        Assert.Equal(HttpStatusCode.OK, nextStatus);
        Assert.Equal(5, _gateway.Fake.Requests.Count);
        var nextContext = JsonDocument.Parse(nextBody).RootElement.GetProperty("context");
        Assert.Equal(2, nextContext.GetProperty("summarized_messages").GetInt32());
        Assert.False(nextContext.GetProperty("summary_updated").GetBoolean());
        using var nextRequest = JsonDocument.Parse(_gateway.Fake.Requests[4].BodyText);
        Assert.EndsWith("The user's code word is heron.", nextRequest.RootElement.GetProperty("system").GetString());
        Assert.Equal(5, nextRequest.RootElement.GetProperty("messages").GetArrayLength());
        Assert.Equal(8, (await http.MessagesAsync(id)).Count); // summarizing changes what is sent, never what is stored
    }

    [Fact]
    public async Task PostMessage_SecondFold_SummarizesThePreviousSummaryWithTheNewlyFoldedTurns()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync("""{"model":"tiny-claude","context":{"strategy":"summarize"}}""");
        _gateway.Fake.Enqueue(FakeReply.Text("A."), FakeReply.Text("First summary."), FakeReply.Text("B."), FakeReply.Text("Second summary."), FakeReply.Text("C."));

        await http.PostTurnAsync(id, ThreadTestClient.Turn("One. " + LongText, model: null, maxTokens: 100));
        await http.PostTurnAsync(id, ThreadTestClient.Turn("Two. " + LongText, model: null, maxTokens: 100));
        var (status, _, body) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Three. " + LongText, model: null, maxTokens: 100));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(5, _gateway.Fake.Requests.Count); // the first fold came at turn two, the second at turn three
        string second = JsonDocument.Parse(_gateway.Fake.Requests[3].BodyText).RootElement.GetProperty("messages")[1].GetProperty("content").GetString()!;
        Assert.StartsWith("Summary so far:\nFirst summary.\n\nConversation since then:\nUser: Two. ", second);
        Assert.EndsWith("Write the updated summary.", second);
        var context = JsonDocument.Parse(body).RootElement.GetProperty("context");
        Assert.Equal(4, context.GetProperty("summarized_messages").GetInt32());
        var (_, thread) = await http.GetJsonAsync($"/v1/threads/{id}");
        Assert.Equal("Second summary.", thread.GetProperty("context").GetProperty("summary").GetProperty("text").GetString());
    }

    [Fact]
    public async Task PostMessage_SummaryCallFails_TurnFailsNothingPersistedNoSummaryStored()
    {
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync("""{"model":"tiny-claude"}""");
        _gateway.Fake.Enqueue(FakeReply.Text("Noted."), FakeReply.Error(500));
        await http.PostTurnAsync(id, ThreadTestClient.Turn(LongText, model: null, maxTokens: 100));

        // summarize chosen for this turn only, on a thread whose strategy is truncate.
        var (status, _, body) = await http.PostTurnAsync(id, ThreadTestClient.Turn("Next.", model: null, maxTokens: 500, extra: ""","context":{"strategy":"summarize"}"""));
        var (_, thread) = await http.GetJsonAsync($"/v1/threads/{id}");

        Assert.True((int)status >= 500, body);
        Assert.StartsWith("Summarizing the thread's older turns with 'fake-gpt' failed",
            JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(2, _gateway.Fake.Requests.Count); // the turn's own call was not made
        Assert.Equal(2, (await http.MessagesAsync(id)).Count);
        Assert.Equal(JsonValueKind.Null, thread.GetProperty("context").GetProperty("summary").ValueKind);
        Assert.Equal("truncate", thread.GetProperty("context").GetProperty("strategy").GetString());
    }

    [Fact]
    public async Task CreateAndPatch_ContextStrategy_ValidatedAndShownOnTheThread()
    {
        using var http = _gateway.Http();

        var (badStatus, _) = await http.PostJsonAsync("/v1/threads", """{"context":{"strategy":"forget"}}""");
        string id = await http.CreateThreadAsync();
        var (patchStatus, patched) = await http.PatchJsonAsync($"/v1/threads/{id}", """{"context":{"strategy":"summarize"}}""");
        var (resetStatus, reset) = await http.PatchJsonAsync($"/v1/threads/{id}", """{"context":null}""");

        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        Assert.Equal(HttpStatusCode.OK, patchStatus);
        Assert.Equal("summarize", patched.GetProperty("context").GetProperty("strategy").GetString());
        Assert.Equal(HttpStatusCode.OK, resetStatus);
        Assert.Equal("truncate", reset.GetProperty("context").GetProperty("strategy").GetString());
    }
}
