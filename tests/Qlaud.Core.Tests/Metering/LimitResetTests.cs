using Qlaud.Metering;

namespace Qlaud.Core.Tests.Metering;

public sealed class LimitResetTests
{
    private static long Ms(int y, int m, int d, int h = 0) => new DateTimeOffset(y, m, d, h, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    [Fact]
    public void Start_Daily_IsMidnightUtc() => Assert.Equal(Ms(2026, 11, 24), LimitResetPeriods.Start(LimitReset.Daily, Ms(2026, 11, 24, 23)));

    [Theory]
    [InlineData(23, 23)] // Monday
    [InlineData(24, 23)]
    [InlineData(29, 23)] // Sunday
    [InlineData(30, 30)] // next Monday
    public void Start_Weekly_IsMondayMidnightUtc(int day, int monday)
        => Assert.Equal(Ms(2026, 11, monday), LimitResetPeriods.Start(LimitReset.Weekly, Ms(2026, 11, day, 15)));

    [Fact]
    public void StartAndEnd_Monthly_FirstOfThisAndNextMonth()
    {
        long start = LimitResetPeriods.Start(LimitReset.Monthly, Ms(2026, 12, 31, 23));

        Assert.Equal(Ms(2026, 12, 1), start);
        Assert.Equal(Ms(2027, 1, 1), LimitResetPeriods.End(LimitReset.Monthly, start));
    }

    [Fact]
    public void StartAndEnd_Lifetime_NeverEnds()
    {
        Assert.Equal(0, LimitResetPeriods.Start(LimitReset.None, Ms(2026, 11, 24)));
        Assert.Null(LimitResetPeriods.End(LimitReset.None, 0));
    }

    [Theory]
    [InlineData("daily", true)]
    [InlineData("weekly", true)]
    [InlineData("monthly", true)]
    [InlineData(null, true)]
    [InlineData("hourly", false)]
    public void TryParse_WireValues_AcceptsTheDocumentedOnes(string? value, bool ok) => Assert.Equal(ok, LimitResetPeriods.TryParse(value, out _));
}
