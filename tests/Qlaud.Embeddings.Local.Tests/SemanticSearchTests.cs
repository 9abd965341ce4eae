using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Search;
using Qlaud.AspNetCore.Tests.Threads;
using Qlaud.FakeProvider;
using Qlaud.Search;

namespace Qlaud.Embeddings.Local.Tests;

/// <summary>Semantic and hybrid <c>GET /v1/search</c> with the real MiniLM model over HTTP: paraphrase hits, isolation,
/// GDPR deletes removing the vectors, and the vectors reloaded after a restart.</summary>
public sealed class SemanticSearchTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly Dictionary<string, string?> Fast = new() { ["Qlaud:Search:IndexPollMilliseconds"] = "50" };

    [Fact]
    public async Task Semantic_ParaphraseWithoutSharedWords_FoundWithTheMessagesOpeningAsSnippet()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: Fast, services: static s => s.AddQlaud().AddLocalEmbeddings());
        using var http = gateway.Http();
        string thread = await http.CreateThreadAsync();
        var (user, _) = await http.TurnAsync(gateway, thread, "My puppy keeps chewing the furniture legs when I leave the house.", "Try chew toys.");
        await gateway.WaitIndexedAsync();
        await http.TurnAsync(gateway, thread, "What is the capital of Australia?", "Canberra.");
        await gateway.WaitIndexedAsync();
        var status = await gateway.Services.GetRequiredService<IQlaudSearch>().GetIndexStatusAsync();
        output.WriteLine($"indexing lag of one turn (2 messages, MiniLM): {status.LastLagMs} ms");

        var semantic = await http.HitsAsync("q=young+dog+destroys+chairs&mode=semantic&limit=1");
        var keyword = await http.HitsAsync("q=young+dog+destroys+chairs&mode=keyword");
        var hybrid = await http.HitsAsync("q=young+dog+destroys+chairs&limit=1");

        Assert.Equal([user], semantic.MessageIds());
        Assert.StartsWith("My puppy keeps chewing", semantic[0].GetProperty("snippet").GetString());
        Assert.InRange(semantic[0].GetProperty("score").GetDouble(), 0.3, 1.0);
        Assert.Empty(keyword);
        Assert.Equal([user], hybrid.MessageIds());
    }

    [Fact]
    public async Task Semantic_EndUsersAndAccounts_SeeOnlyTheirOwnHits()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: Fast, services: static s => s.AddQlaud().AddLocalEmbeddings());
        string alice = (await gateway.MintKeyAsync("""{"end_user_id":"alice"}""")).Secret;
        string bob = (await gateway.MintKeyAsync("""{"end_user_id":"bob"}""")).Secret;
        using var aliceHttp = gateway.Http(alice);
        using var bobHttp = gateway.Http(bob);
        using var other = gateway.Http(await gateway.SecondAccountKeyAsync());
        var (aliceUser, _) = await aliceHttp.TurnAsync(gateway, await aliceHttp.CreateThreadAsync(), "I am allergic to peanuts.", "Noted.");
        var (bobUser, _) = await bobHttp.TurnAsync(gateway, await bobHttp.CreateThreadAsync(), "I cannot eat shellfish, allergy.", "Noted.");
        await gateway.WaitIndexedAsync();

        Assert.DoesNotContain(bobUser, (await aliceHttp.HitsAsync("q=food+intolerance&mode=semantic&limit=10")).MessageIds());
        Assert.Contains(aliceUser, (await aliceHttp.HitsAsync("q=food+intolerance&mode=semantic&limit=10")).MessageIds());
        Assert.DoesNotContain(aliceUser, (await bobHttp.HitsAsync("q=food+intolerance&mode=hybrid&limit=10&end_user_id=alice")).MessageIds());
        Assert.Empty(await other.HitsAsync("q=food+intolerance&mode=semantic"));
        Assert.Equal(2, (await gateway.Http().HitsAsync("q=food+intolerance&mode=semantic&limit=10&end_user_id=bob")).Count);
    }

    [Fact]
    public async Task DeleteAndErase_RemoveTheVectorsFromMemoryAndStore_AndRestartReloadsTheRest()
    {
        using var database = new TempDatabase();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = new Dictionary<string, string?>(Fast) { ["Qlaud:Storage:ConnectionString"] = database.ConnectionString };
        string keptUser;
        await using (var gateway = await GatewayHost.StartAsync(fake, settings, disposeFake: false, services: static s => s.AddQlaud().AddLocalEmbeddings()))
        {
            string alice = (await gateway.MintKeyAsync("""{"end_user_id":"alice"}""")).Secret;
            using var aliceHttp = gateway.Http(alice);
            using var master = gateway.Http();
            string doomed = await master.CreateThreadAsync();
            await master.TurnAsync(gateway, doomed, "Our wedding venue is a barn in Somerset.", "Lovely.");
            await aliceHttp.TurnAsync(gateway, await aliceHttp.CreateThreadAsync(), "Alice's marriage ceremony will be by the sea.", "Congratulations.");
            (keptUser, _) = await master.TurnAsync(gateway, await master.CreateThreadAsync(), "We are getting married in a chapel.", "Wonderful.");
            await gateway.WaitIndexedAsync();
            var search = gateway.Services.GetRequiredService<IQlaudSearch>();
            Assert.Equal(6, (await search.GetIndexStatusAsync()).Vectors);

            Assert.Equal(HttpStatusCode.OK, (await master.DeleteJsonAsync($"/v1/threads/{doomed}")).Status);
            Assert.Equal(4, (await search.GetIndexStatusAsync()).Vectors);
            var (status, erased) = await master.DeleteJsonAsync("/v1/end_users/alice");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(2, erased.GetProperty("search_entries_deleted").GetInt32());
            Assert.Equal(2, (await search.GetIndexStatusAsync()).Vectors);
            Assert.Equal(2, gateway.Count("SELECT count(*) FROM search_documents WHERE Vectors IS NOT NULL"));
            Assert.Equal([keptUser], (await master.HitsAsync("q=wedding+ceremony&mode=semantic&limit=1")).MessageIds());
        }

        await using var restarted = await GatewayHost.StartAsync(fake, settings, disposeFake: false, services: static s => s.AddQlaud().AddLocalEmbeddings());
        using var http = restarted.Http();
        var hits = await http.HitsAsync("q=wedding+ceremony&mode=semantic&limit=10");

        Assert.Equal(keptUser, hits[0].GetProperty("message_id").GetString());
        Assert.Equal(2, hits.Count);
        Assert.Equal(2, (await restarted.Services.GetRequiredService<IQlaudSearch>().GetIndexStatusAsync()).Vectors);
    }
}
