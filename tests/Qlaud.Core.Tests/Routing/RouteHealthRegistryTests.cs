using Qlaud.Configuration;

namespace Qlaud.Core.Tests.Routing;

public sealed class RouteHealthRegistryTests
{
    [Fact]
    public void Get_EmbeddingAndChatRoutes_SpanAndOperationNamedByTheModelsKind()
    {
        var options = RoutingFixture.Options();
        options.Models.Add(new ModelOptions { Id = "e", Capabilities = ["embeddings"], Routes = [new RouteOptions { Provider = "a", UpstreamModel = "e-a", InputPerMTok = 1 }] });
        var f = new RoutingFixture(options);

        var embedding = f.Health.Get(f.Route("a/e-a"));
        var chat = f.Health.Get(f.Route("a/m-a"));

        Assert.Equal(("embeddings", "embeddings e-a"), (embedding.OperationName, embedding.SpanName));
        Assert.Equal(("chat", "chat m-a"), (chat.OperationName, chat.SpanName));
    }
}
