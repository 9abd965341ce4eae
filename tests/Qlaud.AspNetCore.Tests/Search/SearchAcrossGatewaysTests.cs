using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Threads;
using Qlaud.FakeProvider;
using Qlaud.Search;
using Qlaud.Tests.Postgres;

namespace Qlaud.AspNetCore.Tests.Search;

/// <summary>Two gateways on one PostgreSQL database share the indexing queue: every message is indexed by exactly one of them,
/// and either finds what was written through the other, by keyword at once and semantically once its in-memory vectors caught
/// up with the other's (within <c>Qlaud:Search:IndexPollMilliseconds</c>); vectors of messages deleted through one leave the
/// other's memory too.</summary>
public sealed class SearchAcrossGatewaysTests : IAsyncLifetime
{
    private PostgresServer _server = null!;
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.GetAsync();
        _database = await _server.CreateDatabaseAsync();
    }

    public async Task DisposeAsync() => await _server.DropDatabaseAsync(_database);

    [Fact]
    public async Task Index_TwoGatewaysOneQueue_EachMessageIndexedOnceAndFoundFromEither()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Qlaud:Storage:Provider"] = "postgres",
            ["Qlaud:Storage:ConnectionString"] = _database,
            ["Qlaud:Search:IndexPollMilliseconds"] = "20",
        };
        await using var fake = await FakeProviderServer.StartAsync();
        await using var a = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        await using var b = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        using var httpA = a.Http();
        using var httpB = b.Http();
        const int Turns = 40;
        var threads = new[] { await httpA.CreateThreadAsync(), await httpB.CreateThreadAsync() };
        var messages = new List<string>();
        for (int i = 0; i < Turns; i++)
        {
            var (gateway, http) = i % 2 == 0 ? (a, httpA) : (b, httpB);
            var (user, reply) = await http.TurnAsync(gateway, threads[i % 2], $"pelican note {i}", $"pelican answer {i}");
            messages.Add(user);
            messages.Add(reply);
        }

        await a.WaitIndexedAsync();
        await b.WaitIndexedAsync();
        long indexedA = (await a.Services.GetRequiredService<IQlaudSearch>().GetIndexStatusAsync()).Indexed;
        long indexedB = (await b.Services.GetRequiredService<IQlaudSearch>().GetIndexStatusAsync()).Indexed;

        Assert.Equal(2 * Turns, indexedA + indexedB); // no message taken by both
        Assert.Equal(2 * Turns, a.Count("SELECT count(*) FROM search_documents"));
        Assert.Equal(0, a.Count("SELECT count(*) FROM search_queue"));
        Assert.Equal(messages.Order(), (await httpA.HitsAsync("q=pelican&limit=100")).MessageIds().Order());
        Assert.Equal(messages.Order(), (await httpB.HitsAsync("q=pelican&limit=100")).MessageIds().Order());
        Assert.Equal(HttpStatusCode.OK, (await httpB.DeleteJsonAsync($"/v1/threads/{threads[0]}")).Status);
        Assert.Equal(Turns, (await httpA.HitsAsync("q=pelican&limit=100")).Count);
    }

    [Fact]
    public async Task Semantic_MessagesIndexedByOneGatewayAreFoundThroughTheOther_AndAnErasedEndUsersVectorsLeaveItsMemory()
    {
        const int PollMs = 200;
        var settings = new Dictionary<string, string?>
        {
            ["Qlaud:Storage:Provider"] = "postgres",
            ["Qlaud:Storage:ConnectionString"] = _database,
            ["Qlaud:Search:IndexPollMilliseconds"] = PollMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        static void Embeddings(IServiceCollection services)
            => services.AddKeyedSingleton<IEmbeddingGenerator<string, Embedding<float>>>(QlaudSearchDefaults.EmbeddingGeneratorKey, new WordHashEmbeddingGenerator());
        await using var fake = await FakeProviderServer.StartAsync();
        await using var a = await GatewayHost.StartAsync(fake, settings, disposeFake: false, services: Embeddings);
        await using var b = await GatewayHost.StartAsync(fake, settings, disposeFake: false, services: Embeddings);
        var aliceKey = (await a.MintKeyAsync("""{"end_user_id":"alice"}""")).Secret;
        var bobKey = (await a.MintKeyAsync("""{"end_user_id":"bob"}""")).Secret;
        using var alice = a.Http(aliceKey);
        using var bob = a.Http(bobKey);
        using var masterA = a.Http();
        using var masterB = b.Http();

        // Both gateways search once first, so each holds its vectors (loaded at start-up, empty) before anything is indexed.
        Assert.Empty(await masterA.HitsAsync("q=heron&mode=semantic"));
        Assert.Empty(await masterB.HitsAsync("q=heron&mode=semantic"));

        // Every turn goes through gateway a, whose indexer is woken by it, so a indexes (nearly) all of them; b's indexer may take some.
        var messages = new List<string>();
        var aliceMessages = new List<string>();
        string aliceThread = await alice.CreateThreadAsync(), bobThread = await bob.CreateThreadAsync();
        for (int i = 0; i < 4; i++)
        {
            var (u1, r1) = await alice.TurnAsync(a, aliceThread, $"heron wading note {i}", $"heron reply {i}");
            var (u2, r2) = await bob.TurnAsync(a, bobThread, $"heron fishing note {i}", $"heron answer {i}");
            messages.AddRange([u1, r1, u2, r2]);
            aliceMessages.AddRange([u1, r1]);
        }

        await a.WaitIndexedAsync();
        long indexedA = (await a.Services.GetRequiredService<IQlaudSearch>().GetIndexStatusAsync()).Indexed;
        long indexedB = (await b.Services.GetRequiredService<IQlaudSearch>().GetIndexStatusAsync()).Indexed;
        Assert.Equal(messages.Count, indexedA + indexedB);
        Assert.True(indexedA > 0, "gateway a indexed nothing, so nothing tests gateway b's catch-up");

        // Each gateway finds every message semantically (the word-hash vectors of all of them are near the query), those the
        // other indexed included, within a bounded wait.
        var clock = Stopwatch.StartNew();
        foreach (var http in new[] { masterA, masterB })
        {
            List<string> found = [];
            while (clock.Elapsed < TimeSpan.FromSeconds(10))
            {
                found = (await http.HitsAsync("q=heron+note&mode=semantic&limit=100")).MessageIds();
                if (found.Count == messages.Count)
                {
                    break;
                }

                await Task.Delay(50);
            }

            Assert.Equal(messages.Order(), found.Order());
        }

        long caughtUpMs = clock.ElapsedMilliseconds;
        Assert.InRange(caughtUpMs, 0, 5 * PollMs);
        var vectorsB = b.Services.GetRequiredService<VectorIndex>();
        Assert.Equal(messages.Count, a.Services.GetRequiredService<VectorIndex>().Count); // one chunk per message, none twice
        Assert.Equal(messages.Count, vectorsB.Count);

        // Erasing alice through a: her vectors leave b's memory within a bounded wait, and b's best semantic hit is bob's.
        Assert.Equal(HttpStatusCode.OK, (await masterA.DeleteJsonAsync("/v1/end_users/alice")).Status);
        clock.Restart();
        while (vectorsB.Count != messages.Count - aliceMessages.Count && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await masterB.HitsAsync("q=heron+wading&mode=semantic&limit=1");
            await Task.Delay(50);
        }

        Assert.Equal(messages.Count - aliceMessages.Count, vectorsB.Count);
        Assert.InRange(clock.ElapsedMilliseconds, 0, 5 * PollMs);
        var best = (await masterB.HitsAsync("q=heron+wading+note&mode=semantic&limit=1")).MessageIds();
        Assert.Single(best);
        Assert.DoesNotContain(best[0], aliceMessages);
        Assert.Empty((await masterB.HitsAsync("q=heron&mode=semantic&limit=100")).MessageIds().Intersect(aliceMessages));
    }
}
