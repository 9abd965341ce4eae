using Microsoft.Extensions.AI;
using Qlaud.Catalog;
using Qlaud.Dialects;
using Qlaud.Metering;

namespace Qlaud.Core.Tests.Catalog;

public sealed class ModelPriceTests
{
    private static readonly ModelPrice Price = new(
        ModelPrice.MicrosFromUsd(3m), ModelPrice.MicrosFromUsd(15m), ModelPrice.MicrosFromUsd(0.30m), ModelPrice.MicrosFromUsd(3.75m));

    [Fact]
    public void Cost_MixedUsage_EachKindAtItsRate()
    {
        // 1,000 uncached × $3 + 2,000 cache reads × $0.30 + 500 cache writes × $3.75 + 400 output × $15, per million.
        var usage = new TokenUsage(Input: 3_500, Output: 400, CacheRead: 2_000, CacheWrite: 500);
        Assert.Equal(3_000 + 600 + 1_875 + 6_000, Price.Cost(usage));
    }

    [Fact]
    public void Cost_FractionOfMicroUsd_RoundsUp()
        => Assert.Equal(1, new ModelPrice(ModelPrice.MicrosFromUsd(0.15m), 0, 0, 0).Cost(new TokenUsage(1, 0)));

    [Fact]
    public void Cost_UsageDetailsWithCacheWrite_SameAsTokenUsage()
    {
        var details = new UsageDetails
        {
            InputTokenCount = 3_500,
            OutputTokenCount = 400,
            CachedInputTokenCount = 2_000,
            AdditionalCounts = new() { [CanonicalKeys.CacheWriteTokens] = 500 },
        };
        Assert.Equal(Price.Cost(new TokenUsage(3_500, 400, 2_000, 500)), Price.Cost(details));
    }

    [Fact]
    public void MicrosFromUsd_SubCentPrice_Exact()
        => Assert.Equal(75_000, ModelPrice.MicrosFromUsd(0.075m));

    private static readonly ModelPrice Tiered = new ModelPrice(2_000_000, 12_000_000, 200_000, 2_000_000)
    {
        LongContext = new LongContextPrice(200_000, new ModelPrice(4_000_000, 18_000_000, 400_000, 4_000_000)),
    };

    [Fact]
    public void Cost_AtTheThreshold_NormalRates()
        => Assert.Equal((200_000 * 2L) + (1_000 * 12L), Tiered.Cost(new TokenUsage(200_000, 1_000)));

    [Fact]
    public void Cost_AboveTheThreshold_EveryTokenAtTheLongContextRates()
    {
        // 150,001 uncached × $4 + 50,000 cache reads × $0.40 (the reads count towards the threshold) + 1,000 output × $18.
        var usage = new TokenUsage(Input: 200_001, Output: 1_000, CacheRead: 50_000);
        Assert.Equal((150_001 * 4L) + (50_000 * 4L / 10) + (1_000 * 18L), Tiered.Cost(usage));
    }

    [Fact]
    public void For_PicksTheTierByInputTokens()
    {
        Assert.Equal(2_000_000, Tiered.For(200_000).InputMicrosPerMTok);
        Assert.Equal(4_000_000, Tiered.For(200_001).InputMicrosPerMTok);
        Assert.Equal(Price, Price.For(10_000_000));
    }

    [Fact]
    public void WorstCase_AboveTheThreshold_UsesTheLongContextRates()
    {
        Assert.Equal((100_000 * 2L) + (1_000 * 12L), SpendEstimator.WorstCaseUpstreamMicros(Tiered, 100_000, 1_000));
        Assert.Equal((300_000 * 4L) + (1_000 * 18L), SpendEstimator.WorstCaseUpstreamMicros(Tiered, 300_000, 1_000));
    }

    [Fact]
    public void BatchPrice_DiscountsTheLongContextTierToo()
    {
        var route = new CatalogRoute("m", new CatalogProvider("p", "openai", new Uri("http://127.0.0.1/"), new Dictionary<string, string>(), true, TimeSpan.FromSeconds(30)), "m", Tiered) { BatchDiscountPercent = 50 };
        Assert.Equal(1_000_000, route.BatchPrice.InputMicrosPerMTok);
        Assert.Equal(2_000_000, route.BatchPrice.LongContext!.Price.InputMicrosPerMTok);
        Assert.Equal(9_000_000, route.BatchPrice.LongContext.Price.OutputMicrosPerMTok);
        Assert.Equal(200_000, route.BatchPrice.LongContext.ThresholdTokens);
    }
}
