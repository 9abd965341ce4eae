using Qlaud.Catalog;
using Qlaud.Configuration;

namespace Qlaud.Core.Tests.Catalog;

public sealed class CatalogBuilderTests
{
    private static readonly Func<string, string?> NoEnvironment = static _ => null;

    [Fact]
    public void Build_BuiltIn_MeetsCatalogCoverage()
    {
        var (catalog, errors) = CatalogBuilder.Build(new QlaudOptions(), NoEnvironment);
        Assert.Empty(errors);
        Assert.NotNull(catalog);
        Assert.True(catalog.Models.Length >= 40, $"{catalog.Models.Length} models");
        Assert.True(catalog.Providers.Count >= 11, $"{catalog.Providers.Count} providers");
        Assert.True(catalog.Models.Count(static m => m.Routes.Length >= 3) >= 5);
        Assert.All(catalog.Models, static m => Assert.All(m.Routes, static r => Assert.True(r.Price.InputMicrosPerMTok >= 0)));
    }

    [Fact]
    public void Build_NoKeys_OnlyEchoAvailable()
    {
        var (catalog, _) = CatalogBuilder.Build(new QlaudOptions(), NoEnvironment);
        var available = catalog!.Models.Where(static m => m.IsAvailable).Select(static m => m.Id).ToList();
        Assert.Equal([CatalogBuilder.EchoModel], available);
    }

    [Fact]
    public void Build_KeyFromEnvironmentVariable_MakesProviderAvailable()
    {
        var (catalog, _) = CatalogBuilder.Build(new QlaudOptions(), name => name == "OPENAI_API_KEY" ? "sk-test" : null);
        Assert.True(catalog!.Providers["openai"].IsAvailable);
        Assert.False(catalog.Providers["anthropic"].IsAvailable);
    }

    [Fact]
    public void Build_ConfiguredModel_OverridesRoutePriceAndKeepsOthers()
    {
        var builtIn = CatalogBuilder.LoadBuiltIn().Models.First(static m => m.Routes.Count >= 2);
        var first = builtIn.Routes[0];
        var options = new QlaudOptions
        {
            Models = [new ModelOptions { Id = builtIn.Id, Routes = [new RouteOptions { Provider = first.Provider, InputPerMTok = 9m }] }],
        };
        var (catalog, errors) = CatalogBuilder.Build(options, NoEnvironment);
        Assert.Empty(errors);
        Assert.True(catalog!.TryGetModel(builtIn.Id!, out var model));
        Assert.Equal(builtIn.Routes.Count, model.Routes.Length);
        Assert.Equal(9_000_000, model.Routes[0].Price.InputMicrosPerMTok);
        Assert.Equal(ModelPrice.MicrosFromUsd(first.OutputPerMTok!.Value), model.Routes[0].Price.OutputMicrosPerMTok);
    }

    [Fact]
    public void Build_LocalProviderWithoutKey_Available()
    {
        var options = new QlaudOptions
        {
            Providers = { ["local"] = new ProviderOptions { Dialect = "openai", BaseUrl = "http://127.0.0.1:11434/v1" } },
            Models = [new ModelOptions { Id = "llama-local", Routes = [new RouteOptions { Provider = "local", InputPerMTok = 0, OutputPerMTok = 0 }] }],
        };
        var (catalog, errors) = CatalogBuilder.Build(options, NoEnvironment);
        Assert.Empty(errors);
        Assert.True(catalog!.TryGetModel("llama-local", out var model));
        Assert.True(model.IsAvailable);
        Assert.Equal("llama-local", model.Routes[0].UpstreamModel);
    }

    [Theory]
    [InlineData("x", "openai", "not-a-url", "Qlaud:Providers:x:BaseUrl")]
    [InlineData("x", "gemini", "http://127.0.0.1/v1", "Qlaud:Providers:x:Dialect")]
    [InlineData("x", null, "http://127.0.0.1/v1", "Qlaud:Providers:x:Dialect is required")]
    [InlineData("x", "openai", "ftp://127.0.0.1/v1", "Qlaud:Providers:x:BaseUrl")]
    [InlineData("qlaud", "openai", "http://127.0.0.1/v1", "reserved")]
    public void Build_BadProvider_ErrorNamesKey(string name, string? dialect, string baseUrl, string expected)
    {
        var options = new QlaudOptions { Providers = { [name] = new ProviderOptions { Dialect = dialect, BaseUrl = baseUrl } } };
        var (catalog, errors) = CatalogBuilder.Build(options, NoEnvironment);
        Assert.Null(catalog);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Build_BadModel_EveryProblemNamesItsKey()
    {
        var options = new QlaudOptions
        {
            Models =
            [
                new ModelOptions { Id = "ok" , Routes = [new RouteOptions { Provider = "openai", InputPerMTok = 1, OutputPerMTok = 1 }] },
                new ModelOptions { Id = "bad", Capabilities = ["telepathy"], Routes = [new RouteOptions { Provider = "nope", InputPerMTok = 1, OutputPerMTok = 1 }, new RouteOptions { Provider = "openai", InputPerMTok = -1 }] },
                new ModelOptions { Id = "empty" },
            ],
        };
        var (catalog, errors) = CatalogBuilder.Build(options, NoEnvironment);
        Assert.Null(catalog);
        Assert.Contains(errors, static e => e.StartsWith("Qlaud:Models:1:Capabilities", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Qlaud:Models:1:Routes:0:Provider 'nope'", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Qlaud:Models:1:Routes:1:InputPerMTok must be between", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Qlaud:Models:1:Routes:1:OutputPerMTok is required", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Qlaud:Models:2:Routes must name at least one route", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, static e => e.StartsWith("Qlaud:Models:0", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_BuiltIn_HasEmbeddingModelsWithInputPricesOnly()
    {
        var (catalog, _) = CatalogBuilder.Build(new QlaudOptions(), NoEnvironment);

        Assert.True(catalog!.TryGetModel("text-embedding-3-small", out var small));
        Assert.True(catalog.TryGetModel("text-embedding-3-large", out var large));
        Assert.True(small.IsEmbedding && large.IsEmbedding);
        Assert.Equal((20_000L, 0L), (small.Routes[0].Price.InputMicrosPerMTok, small.Routes[0].Price.OutputMicrosPerMTok));
        Assert.Equal(130_000L, large.Routes[0].Price.InputMicrosPerMTok);
        Assert.Equal(0, small.MaxOutputTokens);
        Assert.True(catalog.Models.Count(static m => m.IsEmbedding) >= 3);
        Assert.All(catalog.Models.Where(static m => m.IsEmbedding), static m => Assert.All(m.Routes, static r => Assert.Equal("openai", r.Provider.Dialect)));
        Assert.False(catalog.Models.Single(static m => m.Id == "gpt-4o-mini").IsEmbedding);
    }

    [Fact]
    public void Build_EmbeddingModelOnAnthropicProvider_ErrorNamesTheRoute()
    {
        var options = new QlaudOptions
        {
            Models = [new ModelOptions { Id = "embed-x", Capabilities = ["embeddings"], Routes = [new RouteOptions { Provider = "anthropic", InputPerMTok = 1 }] }],
        };

        var (catalog, errors) = CatalogBuilder.Build(options, NoEnvironment);

        Assert.Null(catalog);
        Assert.Contains(errors, static e => e.StartsWith("Qlaud:Models:0:Routes:0:Provider 'anthropic'", StringComparison.Ordinal) && e.Contains("embeddings", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_EmbeddingModelOnTheEchoProvider_ErrorNamesTheRoute()
    {
        var options = new QlaudOptions
        {
            Models = [new ModelOptions { Id = "embed-x", Capabilities = ["embeddings"], Routes = [new RouteOptions { Provider = CatalogBuilder.EchoProvider, InputPerMTok = 0 }] }],
        };

        var (catalog, errors) = CatalogBuilder.Build(options, NoEnvironment);

        Assert.Null(catalog);
        Assert.Contains(errors, static e => e.StartsWith("Qlaud:Models:0:Routes:0:Provider 'qlaud'", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_EmbeddingModelWithChatCapabilities_ErrorNamesTheKey()
    {
        var options = new QlaudOptions
        {
            Models = [new ModelOptions { Id = "embed-x", Capabilities = ["embeddings", "tools"], Routes = [new RouteOptions { Provider = "openai", InputPerMTok = 1 }] }],
        };

        var (catalog, errors) = CatalogBuilder.Build(options, NoEnvironment);

        Assert.Null(catalog);
        Assert.Contains(errors, static e => e.StartsWith("Qlaud:Models:0:Capabilities", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_ChatModelWithoutOutputPrice_StillAnError()
    {
        var options = new QlaudOptions
        {
            Models = [new ModelOptions { Id = "chat-x", Routes = [new RouteOptions { Provider = "openai", InputPerMTok = 1 }] }],
        };

        var (_, errors) = CatalogBuilder.Build(options, NoEnvironment);

        Assert.Contains("Qlaud:Models:0:Routes:0:OutputPerMTok is required (USD per million tokens, for example 0.15).", errors);
    }

    [Fact]
    public void Build_BuiltIn_GeminiProHasItsLongContextTier()
    {
        var (catalog, _) = CatalogBuilder.Build(new QlaudOptions(), NoEnvironment);
        Assert.True(catalog!.TryGetModel("gemini-3.1-pro-preview", out var model));
        var tier = model.Routes[0].Price.LongContext;
        Assert.NotNull(tier);
        Assert.Equal(200_000, tier.ThresholdTokens);
        Assert.Equal(4_000_000, tier.Price.InputMicrosPerMTok);
        Assert.Equal(18_000_000, tier.Price.OutputMicrosPerMTok);
    }

    [Fact]
    public void Build_ConfiguredLongContextTier_CacheRatesDefaultToItsInputRate()
    {
        var options = new QlaudOptions
        {
            Providers = { ["local"] = new ProviderOptions { Dialect = "openai", BaseUrl = "http://127.0.0.1:11434/v1" } },
            Models = [new ModelOptions { Id = "big", Routes = [new RouteOptions { Provider = "local", InputPerMTok = 1m, OutputPerMTok = 2m,
                LongContextThresholdTokens = 1000, LongContextInputPerMTok = 3m, LongContextOutputPerMTok = 4m }] }],
        };
        var (catalog, errors) = CatalogBuilder.Build(options, NoEnvironment);
        Assert.Empty(errors);
        Assert.True(catalog!.TryGetModel("big", out var model));
        var tier = model.Routes[0].Price.LongContext!;
        Assert.Equal(new ModelPrice(3_000_000, 4_000_000, 3_000_000, 3_000_000), tier.Price);
    }

    [Theory]
    [InlineData(1000L, null, "4", "LongContextInputPerMTok")]
    [InlineData(0L, "3", "4", "LongContextThresholdTokens must be greater than 0")]
    [InlineData(null, "3", "4", "LongContextThresholdTokens is required")]
    public void Build_BadLongContextTier_NamesTheKey(long? threshold, string? input, string? output, string expected)
    {
        var options = new QlaudOptions
        {
            Providers = { ["local"] = new ProviderOptions { Dialect = "openai", BaseUrl = "http://127.0.0.1:11434/v1" } },
            Models = [new ModelOptions { Id = "big", Routes = [new RouteOptions { Provider = "local", InputPerMTok = 1m, OutputPerMTok = 2m,
                LongContextThresholdTokens = threshold, LongContextInputPerMTok = input is null ? null : decimal.Parse(input, System.Globalization.CultureInfo.InvariantCulture),
                LongContextOutputPerMTok = output is null ? null : decimal.Parse(output, System.Globalization.CultureInfo.InvariantCulture) }] }],
        };
        var (_, errors) = CatalogBuilder.Build(options, NoEnvironment);
        Assert.Contains(errors, e => e.Contains("Qlaud:Models:0:Routes:0:", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal));
    }
}
