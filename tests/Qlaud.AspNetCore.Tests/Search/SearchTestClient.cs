using System.Net;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Threads;
using Qlaud.FakeProvider;
using Qlaud.Search;

namespace Qlaud.AspNetCore.Tests.Search;

/// <summary>Turns to index and searches over HTTP, and the waits and row counts search tests need.</summary>
internal static class SearchTestClient
{
    /// <summary>Takes a turn on <paramref name="threadId"/>: the user says <paramref name="user"/>, the fake model answers <paramref name="reply"/>.</summary>
    public static async Task<(string UserMessageId, string ReplyMessageId)> TurnAsync(this HttpClient http, GatewayHost gateway, string threadId, string user, string reply)
    {
        gateway.Fake.Enqueue(FakeReply.Text(reply));
        var (status, response, body) = await http.PostTurnAsync(threadId, ThreadTestClient.Turn(user));
        Assert.True(status == HttpStatusCode.OK, body);
        return (response.Headers.GetValues("x-qlaud-user-message-id").Single(), response.Headers.GetValues("x-qlaud-message-id").Single());
    }

    /// <summary>Waits until the indexer has taken every queued message; fails when the queue stops shrinking for 15 s (a stalled
    /// indexer), or after 5 minutes. A busy machine embeds slowly, so progress rather than a fixed time is the test.</summary>
    public static async Task WaitIndexedAsync(this GatewayHost gateway)
    {
        var search = gateway.Services.GetRequiredService<IQlaudSearch>();
        var overall = System.Diagnostics.Stopwatch.StartNew();
        var sinceProgress = System.Diagnostics.Stopwatch.StartNew();
        long last = long.MaxValue;
        while (overall.Elapsed < TimeSpan.FromMinutes(5))
        {
            long pending = (await search.GetIndexStatusAsync()).Pending;
            if (pending == 0)
            {
                return;
            }

            if (pending < last)
            {
                last = pending;
                sinceProgress.Restart();
            }
            else if (sinceProgress.Elapsed > TimeSpan.FromSeconds(15))
            {
                Assert.Fail($"The search queue stopped draining: {pending} messages still pending after 15 s without progress.");
            }

            await Task.Delay(50);
        }

        Assert.Fail("The search queue was not drained within 5 minutes.");
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body)> SearchAsync(this HttpClient http, string query)
        => await http.GetJsonAsync("/v1/search?" + query);

    /// <summary>The hits of a successful search.</summary>
    public static async Task<List<JsonElement>> HitsAsync(this HttpClient http, string query)
    {
        var (status, body) = await http.SearchAsync(query);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        return [.. body.GetProperty("data").EnumerateArray()];
    }

    public static List<string> MessageIds(this List<JsonElement> hits) => [.. hits.Select(static h => h.GetProperty("message_id").GetString()!)];

    /// <summary>A count from the gateway's database (SQLite or PostgreSQL), for asserting what the index holds.</summary>
    public static long Count(this GatewayHost gateway, string sql)
    {
        var storage = gateway.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Qlaud.Configuration.QlaudOptions>>().Value.Storage;
        using System.Data.Common.DbConnection connection = string.Equals(storage.Provider, "postgres", StringComparison.OrdinalIgnoreCase)
            ? new Npgsql.NpgsqlConnection(storage.ConnectionString)
            : new SqliteConnection(storage.ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
