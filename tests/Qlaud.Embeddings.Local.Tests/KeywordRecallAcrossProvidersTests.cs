using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Search;
using Qlaud.AspNetCore.Tests.Threads;
using Qlaud.Search;
using Qlaud.Tests.Postgres;
using Xunit.Abstractions;

namespace Qlaud.Embeddings.Local.Tests;

/// <summary>
/// The labelled search set (<c>Fixtures/search-recall-set.json</c>) searched by keyword over HTTP on SQLite (FTS5, BM25) and
/// on PostgreSQL (<c>tsvector</c>, <c>ts_rank_cd</c>): the two rankings differ, the recall must not.
/// </summary>
public sealed class KeywordRecallAcrossProvidersTests(ITestOutputHelper output)
{
    private const int K = 5;

    [Fact]
    public async Task KeywordRecallAt5_LabelledSet_ComparableOnSqliteAndPostgres()
    {
        using var set = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Fixtures", "search-recall-set.json")));
        var messages = set.RootElement.GetProperty("messages").EnumerateArray().ToList();
        var queries = set.RootElement.GetProperty("queries").EnumerateArray()
            .Select(static q => (Query: q.GetProperty("query").GetString()!, Kind: q.GetProperty("kind").GetString()!,
                Relevant: q.GetProperty("relevant").EnumerateArray().Select(static r => r.GetString()!).ToList()))
            .ToList();
        var server = await PostgresServer.GetAsync();
        string database = await server.CreateDatabaseAsync();
        try
        {
            var sqlite = await RunAsync(messages, queries, []);
            var postgres = await RunAsync(messages, queries, new() { ["Qlaud:Storage:Provider"] = "postgres", ["Qlaud:Storage:ConnectionString"] = database });

            int sameTop = 0, withHits = 0;
            for (int i = 0; i < queries.Count; i++)
            {
                if (sqlite.Top[i].Count > 0 || postgres.Top[i].Count > 0)
                {
                    withHits++;
                    sameTop += sqlite.Top[i].FirstOrDefault() == postgres.Top[i].FirstOrDefault() ? 1 : 0;
                }
            }

            foreach (string kind in (string[])["all", "keyword", "mixed", "paraphrase"])
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"keyword recall@{K} {kind,-10} ({sqlite.Recall[kind].Count} queries): sqlite {sqlite.Recall[kind].Average():F3}  postgres {postgres.Recall[kind].Average():F3}"));
            }

            output.WriteLine($"same top hit on both: {sameTop} of {withHits} queries with hits");
            double s = sqlite.Recall["all"].Average(), p = postgres.Recall["all"].Average();
            Assert.True(Math.Abs(s - p) <= 0.05, $"keyword recall@{K}: sqlite {s}, postgres {p}");
            Assert.True(postgres.Recall["keyword"].Average() >= 0.9, $"postgres keyword-kind recall {postgres.Recall["keyword"].Average()}");
            Assert.True(sameTop >= withHits * 0.8, $"same top hit on {sameTop} of {withHits}");
        }
        finally
        {
            await server.DropDatabaseAsync(database);
        }
    }

    /// <summary>Loads the set through thread turns on a gateway with <paramref name="storage"/>, then runs every query by keyword:
    /// recall@K per query kind and each query's top-K set keys.</summary>
    private static async Task<(Dictionary<string, List<double>> Recall, List<List<string>> Top)> RunAsync(List<JsonElement> messages,
        List<(string Query, string Kind, List<string> Relevant)> queries, Dictionary<string, string?> storage)
    {
        storage["Qlaud:Search:IndexPollMilliseconds"] = "50";
        await using var gateway = await GatewayHost.StartAsync(settings: storage);
        using var http = gateway.Http();
        var keys = new Dictionary<string, string>(); // message id → set key
        foreach (var thread in messages.GroupBy(static m => m.GetProperty("thread").GetString()!))
        {
            string threadId = await http.CreateThreadAsync("""{"end_user_id":"recall"}""");
            var turn = thread.ToList();
            for (int i = 0; i < turn.Count; i += 2)
            {
                var (user, reply) = await http.TurnAsync(gateway, threadId, turn[i].GetProperty("text").GetString()!, turn[i + 1].GetProperty("text").GetString()!);
                keys[user] = turn[i].GetProperty("id").GetString()!;
                keys[reply] = turn[i + 1].GetProperty("id").GetString()!;
            }
        }

        await gateway.WaitIndexedAsync();
        Assert.Equal(messages.Count, (await gateway.Services.GetRequiredService<IQlaudSearch>().GetIndexStatusAsync()).Indexed);
        var recall = new Dictionary<string, List<double>>();
        var top = new List<List<string>>();
        foreach (var (query, kind, relevant) in queries)
        {
            var found = (await http.HitsAsync($"q={Uri.EscapeDataString(query)}&limit={K}&mode=keyword")).MessageIds().Select(id => keys[id]).ToList();
            top.Add(found);
            double r = relevant.Count(found.Contains) / (double)relevant.Count;
            foreach (string bucket in (string[])[kind, "all"])
            {
                (recall.TryGetValue(bucket, out var list) ? list : recall[bucket] = []).Add(r);
            }
        }

        return (recall, top);
    }
}
