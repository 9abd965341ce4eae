using Microsoft.Extensions.DependencyInjection;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Threads;

namespace Qlaud.Core.Tests.Threads;

/// <summary>Two gateway instances ("nodes": two service providers) on one PostgreSQL database take turns on a thread.</summary>
public sealed class PostgresThreadTurnLockTests : IAsyncLifetime
{
    private MeteringHarness _a = null!;
    private MeteringHarness _b = null!;

    public async Task InitializeAsync()
    {
        _a = await MeteringHarness.StartAsync(storage: MeteringHarness.Postgres);
        _b = await MeteringHarness.StartAsync(databasePath: _a.DatabasePath, storage: MeteringHarness.Postgres);
        _b.KeepDatabase = true;
    }

    public async Task DisposeAsync()
    {
        await _b.DisposeAsync();
        await _a.DisposeAsync();
    }

    [Fact]
    public async Task AcquireAsync_SameThreadOnAnotherNode_WaitsUntilTheFirstTurnEnds()
    {
        var locksA = _a.Services.GetRequiredService<IThreadTurnLock>();
        var locksB = _b.Services.GetRequiredService<IThreadTurnLock>();
        Assert.IsType<PostgresThreadTurnLock>(locksA);

        var first = await locksA.AcquireAsync("thr_1", default);
        var second = locksB.AcquireAsync("thr_1", default).AsTask();
        var other = await locksB.AcquireAsync("thr_2", default).AsTask().WaitAsync(TimeSpan.FromSeconds(30)); // another thread is free
        await Task.Delay(500);
        Assert.False(second.IsCompleted);

        await first.DisposeAsync();
        var next = await second.WaitAsync(TimeSpan.FromSeconds(30));
        await next.DisposeAsync();
        await other.DisposeAsync();
    }

    [Fact]
    public async Task AcquireAsync_ConcurrentTurnsOnTwoNodes_NeverOverlap()
    {
        var nodes = new[] { _a.Services.GetRequiredService<IThreadTurnLock>(), _b.Services.GetRequiredService<IThreadTurnLock>() };
        int inside = 0, maxInside = 0, turns = 0;
        await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            await using var turn = await nodes[i % 2].AcquireAsync("thr_shared", default);
            int now = Interlocked.Increment(ref inside);
            InterlockedMax(ref maxInside, now);
            await Task.Delay(5);
            Interlocked.Increment(ref turns);
            Interlocked.Decrement(ref inside);
        })).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(20, turns);
        Assert.Equal(1, maxInside);
    }

    [Fact]
    public async Task AcquireAsync_CancelledWhileWaitingForAnotherNode_ThrowsAndLeavesTheLockUsable()
    {
        var locksA = _a.Services.GetRequiredService<IThreadTurnLock>();
        var locksB = _b.Services.GetRequiredService<IThreadTurnLock>();
        var first = await locksA.AcquireAsync("thr_1", default);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await locksB.AcquireAsync("thr_1", cts.Token));

        await first.DisposeAsync();
        var again = await locksB.AcquireAsync("thr_1", default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        await again.DisposeAsync();
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen = Volatile.Read(ref target);
        while (value > seen)
        {
            int previous = Interlocked.CompareExchange(ref target, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}
