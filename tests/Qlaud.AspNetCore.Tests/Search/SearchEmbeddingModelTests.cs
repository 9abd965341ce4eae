using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Threads;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Search;

/// <summary><c>Qlaud:Search:EmbeddingModel</c>: messages and queries embedded by a catalog model through Qlaud's own embeddings
/// routing (the fake provider's deterministic vectors over real HTTP), and a model that is not an embedding model refused at start-up.</summary>
public sealed class SearchEmbeddingModelTests
{
    private static Dictionary<string, string?> Settings(string model) => new()
    {
        ["Qlaud:Search:IndexPollMilliseconds"] = "50",
        ["Qlaud:Search:EmbeddingModel"] = model,
        ["Qlaud:Models:2:Id"] = "fake-embed",
        ["Qlaud:Models:2:Capabilities:0"] = "embeddings",
        ["Qlaud:Models:2:Routes:0:Provider"] = "fake",
        ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "upstream-embed",
        ["Qlaud:Models:2:Routes:0:InputPerMTok"] = "1",
    };

    [Fact]
    public async Task EmbeddingModel_Routed_MessagesAndQueriesEmbeddedUpstreamAndSemanticSearchAnswers()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: Settings("fake-embed"));
        using var http = gateway.Http();
        string thread = await http.CreateThreadAsync();
        var (user, _) = await http.TurnAsync(gateway, thread, "the exact sentence to find", "An unrelated answer about gardening.");
        await gateway.WaitIndexedAsync();

        var hits = await http.HitsAsync("q=" + Uri.EscapeDataString("the exact sentence to find") + "&mode=semantic&limit=2");

        Assert.Equal(user, hits[0].GetProperty("message_id").GetString()); // the fake's vectors are a hash of the text: same text, same vector
        Assert.Equal(1.0, hits[0].GetProperty("score").GetDouble(), 3);
        var embeddingCalls = gateway.Fake.Requests.Where(static r => r.Path.EndsWith("/embeddings", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, embeddingCalls.Count); // one batch for the turn's two messages, one for the query
        Assert.All(embeddingCalls, static r => Assert.Contains("\"upstream-embed\"", r.BodyText));
    }

    [Fact]
    public async Task EmbeddingModel_NotAnEmbeddingModel_GatewayDoesNotStart()
    {
        await using var fake = await FakeProviderServer.StartAsync();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(fake, Settings("fake-gpt"), disposeFake: false));

        Assert.Contains("Qlaud:Search:EmbeddingModel 'fake-gpt' is not an embedding model", error.ToString());
    }
}
