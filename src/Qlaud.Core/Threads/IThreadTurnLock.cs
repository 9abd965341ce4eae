namespace Qlaud.Threads;

/// <summary>Serializes the turns of one thread: a turn holds its thread's lock from loading the history to persisting the reply.</summary>
/// <remarks>The in-process implementation is a FIFO async lock per thread id. A store shared by several gateway instances
/// implements it with its database (a row lock on the thread, or an advisory lock) so turns stay serialized across nodes.</remarks>
internal interface IThreadTurnLock
{
    /// <summary>Waits for the thread's lock in arrival order; disposing the result releases it.</summary>
    ValueTask<IAsyncDisposable> AcquireAsync(string threadId, CancellationToken cancellationToken);
}
