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
}
