using System.Net;
using Microsoft.Data.Sqlite;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Search;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Threads;

/// <summary><c>Qlaud:Threads:RetentionDays</c>: idle threads are deleted in the background, recent ones kept.</summary>
public sealed class ThreadRetentionTests
{
    [Fact]
    public async Task RetentionDays_ThreadIdleLongerThanThat_DeletedWithItsMessagesAtStartUpRecentOneKept()
    {
        using var database = new TempDatabase();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = new Dictionary<string, string?> { ["Qlaud:Storage:ConnectionString"] = database.ConnectionString };
        string old, recent;
        await using (var first = await GatewayHost.StartAsync(fake, settings, disposeFake: false))
        {
            using var http = first.Http();
            old = await http.CreateThreadAsync("""{"model":"fake-claude"}""");
            recent = await http.CreateThreadAsync("""{"model":"fake-claude"}""");
            await http.PostTurnAsync(old, ThreadTestClient.Turn("Old news about zeppelins.", model: null));
            await first.WaitIndexedAsync();
            Assert.NotEmpty(await http.HitsAsync("q=zeppelins"));
        }

        await using (var connection = new SqliteConnection(database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var age = connection.CreateCommand();
            long fortyDaysAgo = DateTimeOffset.UtcNow.AddDays(-40).ToUnixTimeMilliseconds();
            age.CommandText = $"UPDATE threads SET UpdatedAtMs = {fortyDaysAgo} WHERE Id = '{old}'";
            await age.ExecuteNonQueryAsync();
        }

        settings["Qlaud:Threads:RetentionDays"] = "30";
        await using var second = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        using var again = second.Http();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await again.GetJsonAsync($"/v1/threads/{old}")).Status != HttpStatusCode.NotFound && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await again.GetJsonAsync($"/v1/threads/{old}")).Status);
        Assert.Equal(HttpStatusCode.OK, (await again.GetJsonAsync($"/v1/threads/{recent}")).Status);
        await using var check = new SqliteConnection(database.ConnectionString);
        await check.OpenAsync();
        await using var count = check.CreateCommand();
        count.CommandText = $"SELECT COUNT(*) FROM thread_messages WHERE ThreadId = '{old}'";
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
        count.CommandText = $"SELECT COUNT(*) FROM search_documents WHERE ThreadId = '{old}'";
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
        Assert.Empty(await again.HitsAsync("q=zeppelins"));
    }
}
