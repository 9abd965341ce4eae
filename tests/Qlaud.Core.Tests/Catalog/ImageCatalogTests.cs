using Qlaud.Catalog;
using Qlaud.Configuration;

namespace Qlaud.Core.Tests.Catalog;

/// <summary>Image models in the catalog: the built-in <c>gpt-image-1</c> at OpenAI's per-image prices, configured ones, and every
/// misconfiguration refused at start-up with the key it concerns.</summary>
public sealed class ImageCatalogTests
{
    private static readonly Func<string, string?> NoEnvironment = static _ => null;

    [Fact]
    public void Build_BuiltIn_GptImage1AtOpenAIsPerImagePrices()
    {
        var (catalog, errors) = CatalogBuilder.Build(new QlaudOptions(), NoEnvironment);

        Assert.Empty(errors);
        Assert.True(catalog!.TryGetModel("gpt-image-1", out var model));
        Assert.True(model.IsImage && !model.IsEmbedding);
        Assert.Equal(0, model.MaxOutputTokens);
        var price = model.Routes[0].ImagePrice!;
        Assert.Equal((11_000L, 42_000L, 167_000L), (price.Cost("low", "1024x1024"), price.Cost("medium", "1024x1024"), price.Cost("high", "1024x1024")));
        Assert.Equal((16_000L, 63_000L, 250_000L), (price.Cost("low", "1536x1024"), price.Cost("medium", "1024x1536"), price.Cost("high", "1536x1024")));
        Assert.Equal(250_000L, price.Cost("auto", "auto")); // unknown: the dearest, never under-charged
        Assert.Null(catalog.Models.Single(static m => m.Id == "gpt-4o-mini").Routes[0].ImagePrice);
    }

    [Fact]
    public void Build_ConfiguredFlatAndTablePrices_TableFirstThenFlat()
    {
        var options = new QlaudOptions
        {
            Models =
            [
                new ModelOptions
                {
                    Id = "my-image",
                    Capabilities = ["images"],
                    Routes = [new RouteOptions { Provider = "openai", UpstreamModel = "dall-e-3", ImagePrice = 0.04m, ImagePrices = new() { ["HD"] = new() { ["1024x1024"] = 0.08m } } }],
                },
            ],
        };

        var (catalog, errors) = CatalogBuilder.Build(options, NoEnvironment);

        Assert.Empty(errors);
        var price = catalog!.Models.Single(static m => m.Id == "my-image").Routes[0].ImagePrice!;
        Assert.Equal((80_000L, 40_000L, 40_000L), (price.Cost("hd", "1024x1024"), price.Cost("standard", "1024x1024"), price.Cost(null, null)));
        Assert.Equal(80_000L, price.DearestMicros);
    }

    [Theory]
    [InlineData("openai", null, null, "images", "Qlaud:Models:0:Routes:0:ImagePrice or Qlaud:Models:0:Routes:0:ImagePrices is required")]
    [InlineData("openai", "-1", null, "images", "Qlaud:Models:0:Routes:0:ImagePrice must be between 0 and 1000")]
    [InlineData("openai", null, "2000", "images", "Qlaud:Models:0:Routes:0:ImagePrices:high:1024x1024 must be between 0 and 1000")]
    [InlineData("anthropic", "0.04", null, "images", "Qlaud:Models:0:Routes:0:Provider 'anthropic' has no images endpoint")]
    [InlineData("qlaud", "0.04", null, "images", "Qlaud:Models:0:Routes:0:Provider 'qlaud' has no images endpoint")]
    [InlineData("openai", "0.04", null, "images,tools", "Qlaud:Models:0:Capabilities: an image model ('images') has no other capabilities")]
    [InlineData("openai", "0.04", null, "tools", "Qlaud:Models:0:Routes:0:ImagePrice and Qlaud:Models:0:Routes:0:ImagePrices belong to image models")]
    public void Build_BadImageModel_ErrorNamesTheKey(string provider, string? flat, string? high, string capabilities, string expected)
    {
        var route = new RouteOptions
        {
            Provider = provider,
            ImagePrice = flat is null ? null : decimal.Parse(flat, System.Globalization.CultureInfo.InvariantCulture),
            ImagePrices = high is null ? null : new() { ["high"] = new() { ["1024x1024"] = decimal.Parse(high, System.Globalization.CultureInfo.InvariantCulture) } },
            InputPerMTok = capabilities.Contains("images", StringComparison.Ordinal) ? null : 1,
            OutputPerMTok = capabilities.Contains("images", StringComparison.Ordinal) ? null : 1,
        };
        var options = new QlaudOptions { Models = [new ModelOptions { Id = "bad-image", Capabilities = [.. capabilities.Split(',')], Routes = [route] }] };

        var (catalog, errors) = CatalogBuilder.Build(options, NoEnvironment);

        Assert.Null(catalog);
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }
}
