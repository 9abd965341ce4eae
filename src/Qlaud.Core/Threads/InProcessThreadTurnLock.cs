namespace Qlaud.Threads;

/// <summary>A FIFO async lock per thread id, in memory; an entry lives while someone holds or waits for it.</summary>
/// <remarks><see cref="SemaphoreSlim"/> releases its asynchronous waiters in the order they started waiting.</remarks>
internal sealed class InProcessThreadTurnLock : IThreadTurnLock
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public async ValueTask<IAsyncDisposable> AcquireAsync(string threadId, CancellationToken cancellationToken)
    {
        Entry entry;
        lock (_entries)
        {
            if (!_entries.TryGetValue(threadId, out entry!))
            {
                entry = new Entry();
                _entries[threadId] = entry;
            }

            entry.Users++;
        }

        try
        {
            await entry.Semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Leave(threadId, entry);
            throw;
        }

        return new Releaser(this, threadId, entry);
    }

    private void Leave(string threadId, Entry entry)
    {
        lock (_entries)
        {
            if (--entry.Users == 0)
            {
                _entries.Remove(threadId);
                entry.Semaphore.Dispose();
            }
        }
    }

    private sealed class Entry
    {
        public SemaphoreSlim Semaphore { get; } = new(1, 1);

        public int Users { get; set; }
    }

    private sealed class Releaser(InProcessThreadTurnLock owner, string threadId, Entry entry) : IAsyncDisposable
    {
        private int _released;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                entry.Semaphore.Release();
                owner.Leave(threadId, entry);
            }

            return ValueTask.CompletedTask;
        }
    }
}
