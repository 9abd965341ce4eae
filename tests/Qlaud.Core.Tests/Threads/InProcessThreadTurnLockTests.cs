using Qlaud.Threads;

namespace Qlaud.Core.Tests.Threads;

public sealed class InProcessThreadTurnLockTests
{
    [Fact]
    public async Task AcquireAsync_WaitersOnOneThread_GetTheLockInArrivalOrder()
    {
        var locks = new InProcessThreadTurnLock();
        var order = new List<int>();
        var held = await locks.AcquireAsync("thr_a", default);
        var waiters = Enumerable.Range(1, 5).Select(i => Task.Run(async () =>
        {
            await Task.Delay(i * 20);
            await using var turn = await locks.AcquireAsync("thr_a", default);
            lock (order)
            {
                order.Add(i);
            }
        })).ToList();
        await Task.Delay(200);

        await held.DisposeAsync();
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([1, 2, 3, 4, 5], order);
    }

    [Fact]
    public async Task AcquireAsync_OtherThread_DoesNotWait()
    {
        var locks = new InProcessThreadTurnLock();
        await using var a = await locks.AcquireAsync("thr_a", default);

        var b = locks.AcquireAsync("thr_b", default);

        Assert.True(b.IsCompleted);
        await (await b).DisposeAsync();
    }

    [Fact]
    public async Task AcquireAsync_CancelledWhileWaiting_ThrowsAndTheLockStillWorks()
    {
        var locks = new InProcessThreadTurnLock();
        var held = await locks.AcquireAsync("thr_a", default);
        using var cts = new CancellationTokenSource(50);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await locks.AcquireAsync("thr_a", cts.Token));
        await held.DisposeAsync();

        await using var again = await locks.AcquireAsync("thr_a", default).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
    }
}
