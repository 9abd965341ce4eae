using System.Net;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Threads;

namespace Qlaud.AspNetCore.Tests.Threads;

/// <summary>Threads in the database: across a restart, erased per end user (GDPR), and the in-process <see cref="IQlaudThreads"/>.</summary>
public sealed class ThreadPersistenceTests
{
    [Fact]
    public async Task Restart_SecondHostOnTheSameDatabase_ContinuesTheThreadWithItsHistory()
    {
        using var database = new TempDatabase();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = new Dictionary<string, string?> { ["Qlaud:Storage:ConnectionString"] = database.ConnectionString };
        string id;
        await using (var first = await GatewayHost.StartAsync(fake, settings, disposeFake: false))
        {
            using var http = first.Http();
            id = await http.CreateThreadAsync("""{"model":"fake-claude","title":"Kept"}""");
            fake.Enqueue(FakeReply.Text("Remembered."));
            Assert.Equal(HttpStatusCode.OK, (await http.PostTurnAsync(id, ThreadTestClient.Turn("Remember 42.", model: null))).Status);
        }

        await using var second = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        using var again = second.Http();
        var (status, thread) = await again.GetJsonAsync($"/v1/threads/{id}");
        var messages = await again.MessagesAsync(id);
        fake.Enqueue(FakeReply.Text("42."));
        var (turn, _, _) = await again.PostTurnAsync(id, ThreadTestClient.Turn("What number?", model: null));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Kept", thread.GetProperty("title").GetString());
        Assert.Equal(["Remember 42.", "Remembered."], messages.Select(static m => m.GetProperty("content")[0].GetProperty("text").GetString()));
        Assert.Equal(HttpStatusCode.OK, turn);
        using var sent = JsonDocument.Parse(fake.Requests[^1].BodyText);
        Assert.Equal(3, sent.RootElement.GetProperty("messages").GetArrayLength());
    }

    [Fact]
    public async Task EraseEndUser_DeletesTheirThreadsAndMessagesAndUnlinksTheirLedgerRows()
    {
        await using var gateway = await GatewayHost.StartAsync();
        var (_, alice) = await gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        var (_, bob) = await gateway.MintKeyAsync("""{"end_user_id":"bob"}""");
        using var aliceHttp = gateway.Http(alice);
        using var bobHttp = gateway.Http(bob);
        string aliceThread = await aliceHttp.CreateThreadAsync();
        await aliceHttp.CreateThreadAsync();
        string bobThread = await bobHttp.CreateThreadAsync();
        await aliceHttp.PostTurnAsync(aliceThread, ThreadTestClient.Turn("Alice's secret"));
        await bobHttp.PostTurnAsync(bobThread, ThreadTestClient.Turn("Bob's note"));
        using var admin = gateway.Http();
        await admin.PostTurnAsync(aliceThread, ThreadTestClient.Turn("The master key on Alice's thread")); // attributed to Alice

        var (status, erased) = await admin.DeleteJsonAsync("/v1/end_users/alice");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("alice", erased.GetProperty("end_user_id").GetString());
        Assert.Equal(2, erased.GetProperty("threads_deleted").GetInt32());
        Assert.Equal(4, erased.GetProperty("messages_deleted").GetInt32());
        Assert.Equal(2, erased.GetProperty("ledger_entries_unlinked").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetJsonAsync($"/v1/threads/{aliceThread}")).Status);
        Assert.Equal(2, (await bobHttp.MessagesAsync(bobThread)).Count);
        await using var connection = new SqliteConnection(gateway.Services.GetConnectionString());
        await connection.OpenAsync();
        Assert.Equal(0L, await ScalarAsync(connection, "SELECT COUNT(*) FROM thread_messages WHERE ContentJson LIKE '%Alice%'"));
        Assert.Equal(0L, await ScalarAsync(connection, "SELECT COUNT(*) FROM LedgerEntries WHERE EndUserId = 'alice'"));
        Assert.Equal(3L, await ScalarAsync(connection, "SELECT COUNT(*) FROM LedgerEntries WHERE Kind = 'Usage'")); // the money stays
        Assert.Equal(1L, await ScalarAsync(connection, "SELECT COUNT(*) FROM LedgerEntries WHERE EndUserId = 'bob'"));
    }

    [Fact]
    public async Task InProcess_CreateAppendTurnAndList_SameStoreAsTheHttpSurface()
    {
        await using var gateway = await GatewayHost.StartAsync();
        var threads = gateway.Services.GetRequiredService<IQlaudThreads>();
        gateway.Fake.Enqueue(FakeReply.Text("In process."));

        var thread = await threads.CreateAsync(QlaudCaller.InProcess, new NewThread { Model = "fake-gpt", EndUserId = "dora" });
        var result = await threads.AppendTurnAsync(QlaudCaller.InProcess, thread.Id, ThreadTurnRequest.Text("Hello from code.", 64));
        var page = await threads.ListMessagesAsync(QlaudCaller.InProcess, thread.Id, new PageOptions { Order = ListOrder.Ascending });
        using var http = gateway.Http();
        var overHttp = await http.MessagesAsync(thread.Id);

        Assert.Equal("In process.", result.Response.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(thread.Id, result.ThreadId);
        Assert.Equal([result.UserMessageId, result.AssistantMessageId], page!.Data.Select(static m => m.Id));
        Assert.Equal(2, overHttp.Count);
        var missing = await Assert.ThrowsAsync<QlaudException>(() => threads.AppendTurnAsync(QlaudCaller.InProcess, "thr_missing", ThreadTurnRequest.Text("x", 8)));
        Assert.Equal(QlaudErrorKind.NotFound, missing.Error.Kind);
    }

    private static async Task<long> ScalarAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
