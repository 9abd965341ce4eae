using Microsoft.Extensions.Time.Testing;
using Qlaud.Routing;

namespace Qlaud.Core.Tests.Routing;

public sealed class RouteStatisticsTests
{
    private readonly FakeTimeProvider _clock = new();

    private RouteStatistics Create() => new(_clock, TimeSpan.FromSeconds(60));

    [Fact]
    public void Snapshot_NoData_NullsAndZeroAttempts()
    {
        var snapshot = Create().Snapshot();
        Assert.Equal(0, snapshot.Attempts);
        Assert.Null(snapshot.P50TimeToFirstTokenMs);
        Assert.Null(snapshot.TokensPerSecond);
        Assert.Null(snapshot.ErrorRate);
    }

    [Fact]
    public void Snapshot_Samples_PercentilesThroughputAndErrorRate()
    {
        var stats = Create();
        for (int i = 0; i < 18; i++)
        {
            stats.RecordSuccess(TimeSpan.FromMilliseconds(180), 100, TimeSpan.FromSeconds(1));
        }

        stats.RecordSuccess(TimeSpan.FromMilliseconds(2_500), 100, TimeSpan.FromSeconds(3));
        stats.RecordFailure();

        var snapshot = stats.Snapshot();
        Assert.Equal(20, snapshot.Attempts);
        Assert.Equal(1, snapshot.Failures);
        Assert.Equal(0.05, snapshot.ErrorRate);
        Assert.InRange(snapshot.P50TimeToFirstTokenMs!.Value, 150, 200); // inside the 150–200 ms bucket
        Assert.InRange(snapshot.P95TimeToFirstTokenMs!.Value, 2_000, 3_000);
        Assert.Equal(1_900 / 21.0, snapshot.TokensPerSecond!.Value, 6);
    }

    [Fact]
    public void Snapshot_AfterTheWindow_SamplesExpire()
    {
        var stats = Create();
        stats.RecordSuccess(TimeSpan.FromMilliseconds(100), 50, TimeSpan.FromSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(30));
        stats.RecordSuccess(TimeSpan.FromMilliseconds(100), 50, TimeSpan.FromSeconds(1));
        Assert.Equal(2, stats.Snapshot().Attempts);

        _clock.Advance(TimeSpan.FromSeconds(35));
        Assert.Equal(1, stats.Snapshot().Attempts);

        _clock.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(0, stats.Snapshot().Attempts);
        Assert.Null(stats.TokensPerSecond());
    }

    [Fact]
    public void RecordSuccess_WithoutTokens_NoThroughputSample()
    {
        var stats = Create();
        stats.RecordSuccess(TimeSpan.FromMilliseconds(100), 0, TimeSpan.FromSeconds(1));
        Assert.Null(stats.TokensPerSecond());
        Assert.NotNull(stats.Snapshot().P50TimeToFirstTokenMs);
    }
}
