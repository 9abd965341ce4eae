using Qlaud.Metering;

namespace Qlaud.Core.Tests.Metering;

public sealed class MarkupPricingTests
{
    [Theory]
    [InlineData(1_000, 0, 1_000)]
    [InlineData(1_000, 10, 1_100)]
    [InlineData(1_001, 12.5, 1_127)]
    [InlineData(1, 0.01, 2)]
    [InlineData(0, 50, 0)]
    [InlineData(3, 100, 6)]
    public void Charge_UpstreamAndMarkup_AddsMarkupRoundedUpToAWholeMicro(long upstream, double markup, long expected)
        => Assert.Equal(expected, MarkupPricing.Charge(upstream, (decimal)markup));
}
