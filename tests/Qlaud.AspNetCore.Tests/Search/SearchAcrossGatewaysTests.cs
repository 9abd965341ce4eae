using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Threads;
using Qlaud.FakeProvider;
using Qlaud.Search;
using Qlaud.Tests.Postgres;

namespace Qlaud.AspNetCore.Tests.Search;

/// <summary>Two gateways on one PostgreSQL database share the indexing queue: every message is indexed by exactly one of them,
/// and either finds what was written through the other.</summary>
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
}
