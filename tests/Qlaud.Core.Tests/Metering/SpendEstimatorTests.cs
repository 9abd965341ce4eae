using System.Collections.Immutable;
using Microsoft.Extensions.AI;
using Qlaud.Catalog;
using Qlaud.Metering;

namespace Qlaud.Core.Tests.Metering;

public sealed class SpendEstimatorTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(3, 1)]
    [InlineData(4, 2)]
    [InlineData(3000, 1000)]
    public void EstimateInputTokens_BodyBytes_ThreeBytesPerTokenRoundedUp(int bytes, long expected)
        => Assert.Equal(expected, SpendEstimator.EstimateInputTokens(bytes));

    [Theory]
    [InlineData(null, 8192, 8192)]
    [InlineData(100L, 8192, 100)]
    [InlineData(100_000L, 8192, 8192)]
    [InlineData(500L, 0, 500)]
    [InlineData(null, 0, SpendEstimator.DefaultMaxOutputTokens)]
    public void MaxOutputTokens_RequestAndModel_RequestCappedAtModelMaximum(long? requested, int modelMax, long expected)
    {
        var model = new CatalogModel("m", "m", "o", 100_000, modelMax, ModelCapabilities.None, []);

        Assert.Equal(expected, SpendEstimator.MaxOutputTokens(requested, model));
    }

    [Fact]
    public void Estimate_TwoCandidateRoutes_UsesTheDearestRouteAtItsDearestInputRateWithMarkup()
    {
        var provider = new CatalogProvider("p", "openai", new Uri("http://127.0.0.1:9/v1"), ImmutableDictionary<string, string>.Empty, true, TimeSpan.FromSeconds(1));
        var cheap = new CatalogRoute("m", provider, "cheap", new ModelPrice(1_000_000, 2_000_000, 100_000, 1_250_000));
        var dear = new CatalogRoute("m", provider, "dear", new ModelPrice(3_000_000, 15_000_000, 300_000, 3_750_000));

        var estimate = SpendEstimator.Estimate([cheap, dear], inputTokens: 1_000, outputTokens: 100, markupPercent: 10);

        // dear route: 1000 × $3.75 (cache write is its dearest input rate) + 100 × $15 = 3750 + 1500 = 5250 micro-USD, +10 % = 5775
        Assert.Equal(new SpendEstimate(1_000, 100, 5_775), estimate);
        Assert.Equal(1_100, estimate.RateLimitTokens);
    }

    [Fact]
    public void EstimateInputTokens_ChatMessages_CountsTextInstructionsAndOverhead()
    {
        List<ChatMessage> messages = [new(ChatRole.System, "Be brief."), new(ChatRole.User, new string('x', 300))];

        long tokens = SpendEstimator.EstimateInputTokens(messages, new ChatOptions { Instructions = "abc" });

        Assert.Equal(16 + ((9 + 300 + 3 + 2) / 3), tokens);
    }
}
