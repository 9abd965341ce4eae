using System.Net;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Tests.Postgres;

namespace Qlaud.AspNetCore.Tests.Threads;

/// <summary>Threads over real HTTP on PostgreSQL (<c>Qlaud:Storage:Provider = postgres</c>), with two gateways on one database.</summary>
public sealed class PostgresThreadTests : IAsyncLifetime
{
    private PostgresServer _server = null!;
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.GetAsync();
        _database = await _server.CreateDatabaseAsync();
    }

    public async Task DisposeAsync() => await _server.DropDatabaseAsync(_database);

    private Dictionary<string, string?> Settings() => new()
    {
        ["Qlaud:Storage:Provider"] = "postgres",
        ["Qlaud:Storage:ConnectionString"] = _database,
        ["Qlaud:Search:Enabled"] = "false",
    };

    [Fact]
    public async Task Restart_SecondHostOnTheSameDatabase_ContinuesTheThreadWithItsHistory()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        string id;
        await using (var first = await GatewayHost.StartAsync(fake, Settings(), disposeFake: false))
        {
            using var http = first.Http();
            id = await http.CreateThreadAsync("""{"model":"fake-claude","title":"Kept"}""");
            fake.Enqueue(FakeReply.Text("Remembered."));
            Assert.Equal(HttpStatusCode.OK, (await http.PostTurnAsync(id, ThreadTestClient.Turn("Remember 42.", model: null))).Status);
        }

        await using var second = await GatewayHost.StartAsync(fake, Settings(), disposeFake: false);
        using var again = second.Http();
        fake.Enqueue(FakeReply.Text("42."));
        var (turn, _, _) = await again.PostTurnAsync(id, ThreadTestClient.Turn("What number?", model: null));
        var messages = await again.MessagesAsync(id);

        Assert.Equal(HttpStatusCode.OK, turn);
        Assert.Equal(["Remember 42.", "Remembered.", "What number?", "42."], messages.Select(static m => m.GetProperty("content")[0].GetProperty("text").GetString()));
    }

    [Fact]
    public async Task PostTurn_TwoGatewaysPostToOneThreadAtOnce_TurnsAreSerialized()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        await using var a = await GatewayHost.StartAsync(fake, Settings(), disposeFake: false);
        await using var b = await GatewayHost.StartAsync(fake, Settings(), disposeFake: false);
        using var httpA = a.Http();
        using var httpB = b.Http();
        string id = await httpA.CreateThreadAsync("""{"model":"fake-claude"}""");
        const int Turns = 6;
        for (int i = 0; i < Turns; i++)
        {
            fake.Enqueue(FakeReply.Text("reply") with { Latency = TimeSpan.FromMilliseconds(100) });
        }

        var results = await Task.WhenAll(Enumerable.Range(0, Turns).Select(i =>
            (i % 2 == 0 ? httpA : httpB).PostTurnAsync(id, ThreadTestClient.Turn($"turn {i}", model: null))));
        var messages = await httpB.MessagesAsync(id);

        Assert.All(results, static r => Assert.Equal(HttpStatusCode.OK, r.Status));
        // Serialized turns alternate user, assistant: each turn saw the whole history before it, none interleaved.
        Assert.Equal(Enumerable.Range(0, Turns).SelectMany(static _ => (string[])["user", "assistant"]), messages.Select(static m => m.GetProperty("role").GetString()));
        var histories = fake.Requests.Select(static r => System.Text.Json.JsonDocument.Parse(r.BodyText).RootElement.GetProperty("messages").GetArrayLength()).Order();
        Assert.Equal(Enumerable.Range(0, Turns).Select(static i => (2 * i) + 1), histories);
    }
}
