namespace Qlaud.Threads;

/// <summary>Serializes work per key on every gateway sharing the storage: the turns of one thread (a turn holds its thread's lock
/// from loading the history to persisting the reply) and the OAuth token refreshes of one connection (key <c>connection-refresh:{id}</c>).</summary>
/// <remarks>The in-process implementation is a FIFO async lock per key. A store shared by several gateway instances
/// implements it with its database (an advisory lock on PostgreSQL) so the work stays serialized across nodes.</remarks>
internal interface IThreadTurnLock
{
    /// <summary>Waits for the thread's lock in arrival order; disposing the result releases it.</summary>
    ValueTask<IAsyncDisposable> AcquireAsync(string threadId, CancellationToken cancellationToken);
}
