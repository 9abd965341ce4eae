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
        var waiters = new List<Task>();
        for (int i = 1; i <= 5; i++)
        {
            // AcquireAsync joins the queue before it returns, so the calls' order is the arrival order.
            var pending = locks.AcquireAsync("thr_a", default);
            Assert.False(pending.IsCompleted);
            waiters.Add(RecordAsync(pending, i));
        }

        await held.DisposeAsync();
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([1, 2, 3, 4, 5], order);

        async Task RecordAsync(ValueTask<IAsyncDisposable> pending, int n)
        {
            await using var turn = await pending;
            await Task.Yield(); // the next waiter must not get in while this one holds the lock
            lock (order)
            {
                order.Add(n);
            }
        }
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
