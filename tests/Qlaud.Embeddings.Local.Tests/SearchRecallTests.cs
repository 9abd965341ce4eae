using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Search;
using Qlaud.AspNetCore.Tests.Threads;
using Qlaud.Search;
using Xunit.Abstractions;

namespace Qlaud.Embeddings.Local.Tests;

/// <summary>
/// The labelled search set (<c>Fixtures/search-recall-set.json</c>: 200 chat messages, 45 queries) loaded through real thread
/// turns over HTTP, indexed with the real MiniLM model and searched over HTTP in each mode: hybrid recall@5 is at least that
/// of keyword-only and of semantic-only.
/// </summary>
public sealed class SearchRecallTests(ITestOutputHelper output)
{
    private const int K = 5;

    [Fact]
    public async Task RecallAt5_LabelledSet_HybridAtLeastKeywordAndSemantic()
    {
        using var set = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Fixtures", "search-recall-set.json")));
        var messages = set.RootElement.GetProperty("messages").EnumerateArray().ToList();
        var queries = set.RootElement.GetProperty("queries").EnumerateArray()
            .Select(static q => (Query: q.GetProperty("query").GetString()!, Kind: q.GetProperty("kind").GetString()!,
                Relevant: q.GetProperty("relevant").EnumerateArray().Select(static r => r.GetString()!).ToList()))
            .ToList();
        var text = messages.ToDictionary(static m => m.GetProperty("id").GetString()!, static m => m.GetProperty("text").GetString()!);
        Assert.Equal(200, messages.Count);
        foreach (var (query, kind, relevant) in queries.Where(static q => q.Kind == "paraphrase"))
        {
            // A paraphrase shares no word with its relevant messages (as the keyword index splits and folds words).
            var words = SearchText.Terms(query);
            Assert.All(relevant, id => Assert.Empty(SearchText.Terms(text[id]).Intersect(words)));
        }

        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Search:IndexPollMilliseconds"] = "50" },
            services: static s => s.AddQlaud().AddLocalEmbeddings());
        using var http = gateway.Http();
        var ids = new Dictionary<string, string>(); // set key → message id
        var keys = new Dictionary<string, string>(); // message id → set key
        foreach (var thread in messages.GroupBy(static m => m.GetProperty("thread").GetString()!))
        {
            string threadId = await http.CreateThreadAsync("""{"end_user_id":"recall"}""");
            var turn = thread.ToList();
            for (int i = 0; i < turn.Count; i += 2)
            {
                var (user, reply) = await http.TurnAsync(gateway, threadId, turn[i].GetProperty("text").GetString()!, turn[i + 1].GetProperty("text").GetString()!);
                ids[turn[i].GetProperty("id").GetString()!] = user;
                ids[turn[i + 1].GetProperty("id").GetString()!] = reply;
            }
        }

        foreach (var (key, id) in ids)
        {
            keys[id] = key;
        }

        await gateway.WaitIndexedAsync();
        var status = await gateway.Services.GetRequiredService<IQlaudSearch>().GetIndexStatusAsync();
        Assert.Equal(200, status.Indexed);
        Assert.True(status.Semantic);

        var recall = new Dictionary<(string Mode, string Kind), List<double>>();
        foreach (var (query, kind, relevant) in queries)
        {
            foreach (string mode in (string[])["keyword", "semantic", "hybrid"])
            {
                var hits = await http.HitsAsync($"q={Uri.EscapeDataString(query)}&limit={K}&mode={mode}");
                var found = hits.MessageIds().Select(id => keys[id]).ToHashSet();
                double r = relevant.Count(found.Contains) / (double)relevant.Count;
                foreach (string bucket in (string[])[kind, "all"])
                {
                    (recall.TryGetValue((mode, bucket), out var list) ? list : recall[(mode, bucket)] = []).Add(r);
                }
            }
        }

        double Recall(string mode, string kind = "all") => recall[(mode, kind)].Average();
        foreach (string kind in (string[])["all", "paraphrase", "keyword", "mixed"])
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"recall@{K} {kind,-10} ({recall[("hybrid", kind)].Count} queries): keyword {Recall("keyword", kind):F3}  semantic {Recall("semantic", kind):F3}  hybrid {Recall("hybrid", kind):F3}"));
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"indexing lag: last {status.LastLagMs} ms, max {status.MaxLagMs} ms for 200 messages"));
        Assert.True(Recall("hybrid") >= Recall("keyword"), $"hybrid {Recall("hybrid")} < keyword {Recall("keyword")}");
        Assert.True(Recall("hybrid") >= Recall("semantic"), $"hybrid {Recall("hybrid")} < semantic {Recall("semantic")}");
        Assert.True(Recall("semantic", "paraphrase") > Recall("keyword", "paraphrase"));
        Assert.True(Recall("keyword", "keyword") >= 0.9);
    }
}
