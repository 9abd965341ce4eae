using Qlaud.Catalog;
using Qlaud.Configuration;
using Qlaud.Routing;

namespace Qlaud.Core.Tests.Routing;

public sealed class RouterTests
{
    private static Router CreateRouter()
    {
        var options = new QlaudOptions
        {
            UseBuiltInCatalog = false,
            Providers =
            {
                ["a"] = new ProviderOptions { Dialect = "openai", BaseUrl = "http://127.0.0.1:1/v1", ApiKey = "k" },
                ["b"] = new ProviderOptions { Dialect = "openai", BaseUrl = "http://127.0.0.1:2/v1", ApiKey = "k" },
                ["off"] = new ProviderOptions { Dialect = "openai", BaseUrl = "http://127.0.0.1:3/v1", Enabled = false },
            },
            Models =
            [
                new ModelOptions
                {
                    Id = "m",
                    Routes =
                    [
                        new RouteOptions { Provider = "off", InputPerMTok = 0, OutputPerMTok = 0 },
                        new RouteOptions { Provider = "a", UpstreamModel = "m-a", InputPerMTok = 2, OutputPerMTok = 8 },
                        new RouteOptions { Provider = "b", UpstreamModel = "m-b", InputPerMTok = 1, OutputPerMTok = 4 },
                    ],
                },
                new ModelOptions { Id = "dark", Routes = [new RouteOptions { Provider = "off", InputPerMTok = 0, OutputPerMTok = 0 }] },
                new ModelOptions { Id = "e", Capabilities = ["embeddings"], Routes = [new RouteOptions { Provider = "a", UpstreamModel = "e-a", InputPerMTok = 1 }] },
            ],
        };
        var (catalog, errors) = CatalogBuilder.Build(options, static _ => null);
        Assert.Empty(errors);
        return new Router(catalog!);
    }

    [Fact]
    public void Resolve_Default_PriorityOrderSkippingUnavailable()
        => Assert.Equal(["a/m-a", "b/m-b"], CreateRouter().Resolve("m").Candidates.Select(static r => r.Name));

    [Fact]
    public void Resolve_Floor_CheapestFirst()
        => Assert.Equal(["b/m-b", "a/m-a"], CreateRouter().Resolve("m:floor").Candidates.Select(static r => r.Name));

    [Fact]
    public void Resolve_CaseInsensitive()
        => Assert.Null(CreateRouter().Resolve("M").Error);

    [Fact]
    public void Resolve_Unknown_NotFoundWithCode()
    {
        var plan = CreateRouter().Resolve("nope");
        Assert.Equal(QlaudErrorKind.NotFound, plan.Error!.Kind);
        Assert.Equal("model_not_found", plan.Error.Code);
        Assert.Contains("'nope'", plan.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_NoAvailableRoute_UnavailableNamingProviders()
    {
        var plan = CreateRouter().Resolve("dark");
        Assert.Equal(QlaudErrorKind.Unavailable, plan.Error!.Kind);
        Assert.Contains("off", plan.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_EmbeddingModelForChat_InvalidRequestNamingTheEmbeddingsEndpoint()
    {
        var selection = CreateRouter().Select("e", null, default);

        Assert.Empty(selection.Candidates);
        Assert.Equal((QlaudErrorKind.InvalidRequest, Router.ModelKindCode), (selection.Error!.Kind, selection.Error.Code));
        Assert.Contains("POST /v1/embeddings", selection.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_ChatModelForEmbeddings_InvalidRequest()
    {
        var selection = CreateRouter().Select("m", null, RequestTraits.ForEmbeddings(10));

        Assert.Equal(Router.ModelKindCode, selection.Error!.Code);
        Assert.Contains("not an embedding model", selection.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_ChatModelAsEmbeddingsFallback_InvalidRequestNamingTheFallback()
    {
        var selection = CreateRouter().Select("e", new RoutingRequest { Models = ["m"] }, RequestTraits.ForEmbeddings(10));

        Assert.Equal(Router.ModelKindCode, selection.Error!.Code);
        Assert.StartsWith("models[0]: ", selection.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_EmbeddingModelForEmbeddings_ItsRoutes()
        => Assert.Equal(["a/e-a"], CreateRouter().Select("e", null, RequestTraits.ForEmbeddings(10)).Candidates.Select(static r => r.Name));
}
