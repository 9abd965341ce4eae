using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Search;
using Qlaud.AspNetCore.Tests.Threads;
using Qlaud.FakeProvider;
using Qlaud.Search;
using Qlaud.Tests.Postgres;

namespace Qlaud.Embeddings.Local.Tests;

/// <summary>Semantic and hybrid <c>GET /v1/search</c> with the real MiniLM model on PostgreSQL: vectors stored as <c>bytea</c>
/// with the message, searched in memory, removed by GDPR deletes, and reloaded after a restart.</summary>
public sealed class SemanticSearchPostgresTests
{
    [Fact]
    public async Task DeleteAndErase_RemoveTheVectorsFromMemoryAndStore_AndRestartReloadsTheRest()
    {
        var server = await PostgresServer.GetAsync();
        string database = await server.CreateDatabaseAsync();
        try
        {
            await using var fake = await FakeProviderServer.StartAsync();
            var settings = new Dictionary<string, string?>
            {
                ["Qlaud:Search:IndexPollMilliseconds"] = "50",
                ["Qlaud:Storage:Provider"] = "postgres",
                ["Qlaud:Storage:ConnectionString"] = database,
            };
            string keptUser, keptReply;
            await using (var gateway = await GatewayHost.StartAsync(fake, settings, disposeFake: false, services: static s => s.AddQlaud().AddLocalEmbeddings()))
            {
                string alice = (await gateway.MintKeyAsync("""{"end_user_id":"alice"}""")).Secret;
                using var aliceHttp = gateway.Http(alice);
                using var master = gateway.Http();
                string doomed = await master.CreateThreadAsync();
                await master.TurnAsync(gateway, doomed, "Our wedding venue is a barn in Somerset.", "Lovely.");
                await aliceHttp.TurnAsync(gateway, await aliceHttp.CreateThreadAsync(), "Alice's marriage ceremony will be by the sea.", "Congratulations.");
                (keptUser, keptReply) = await master.TurnAsync(gateway, await master.CreateThreadAsync(), "We are getting married in a chapel.", "Wonderful.");
                await gateway.WaitIndexedAsync();
                var search = gateway.Services.GetRequiredService<IQlaudSearch>();
                Assert.Equal(6, (await search.GetIndexStatusAsync()).Vectors);
                Assert.Equal(2, (await aliceHttp.HitsAsync("q=wedding+ceremony&mode=semantic&limit=10")).Count); // her own thread only

                Assert.Equal(HttpStatusCode.OK, (await master.DeleteJsonAsync($"/v1/threads/{doomed}")).Status);
                Assert.Equal(4, (await search.GetIndexStatusAsync()).Vectors);
                var (status, erased) = await master.DeleteJsonAsync("/v1/end_users/alice");
                Assert.Equal(HttpStatusCode.OK, status);
                Assert.Equal(2, erased.GetProperty("search_entries_deleted").GetInt32());
                Assert.Equal(2, (await search.GetIndexStatusAsync()).Vectors);
                Assert.Equal(2, gateway.Count("SELECT count(*) FROM search_documents WHERE \"Vectors\" IS NOT NULL AND octet_length(\"Vectors\") % 4 = 0"));
                Assert.Equal([keptUser], (await master.HitsAsync("q=wedding+ceremony&mode=semantic&limit=1")).MessageIds());
                Assert.Equal([keptUser], (await master.HitsAsync("q=married+wedding&limit=1")).MessageIds()); // hybrid
            }

            await using var restarted = await GatewayHost.StartAsync(fake, settings, disposeFake: false, services: static s => s.AddQlaud().AddLocalEmbeddings());
            using var http = restarted.Http();
            var hits = await http.HitsAsync("q=wedding+ceremony&mode=semantic&limit=10");

            Assert.Equal(keptUser, hits[0].GetProperty("message_id").GetString());
            Assert.Equal([keptUser, keptReply], hits.MessageIds().Order());
            Assert.Equal(2, (await restarted.Services.GetRequiredService<IQlaudSearch>().GetIndexStatusAsync()).Vectors);
        }
        finally
        {
            await server.DropDatabaseAsync(database);
        }
    }
}
