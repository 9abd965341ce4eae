using Qlaud.Storage;

namespace Qlaud.Threads;

/// <summary>Where threads, their messages and idempotent turn answers are kept.</summary>
/// <remarks>The service layer talks only to this interface. The EF Core implementation uses LINQ every relational provider
/// translates; a PostgreSQL store can implement it (and <see cref="IThreadTurnLock"/>) without touching the service.</remarks>
internal interface IThreadStore
{
    Task InsertThreadAsync(ThreadEntity thread, CancellationToken cancellationToken);

    Task<ThreadEntity?> FindThreadAsync(ThreadScope scope, string threadId, CancellationToken cancellationToken);

    /// <summary>A page of threads in <paramref name="scope"/>, ordered by creation time then id; null when a cursor names no visible thread.</summary>
    Task<StorePage<ThreadEntity>?> ListThreadsAsync(ThreadScope scope, PageOptions page, CancellationToken cancellationToken);

    /// <summary>Applies <paramref name="change"/> to the thread and saves it; null when not found.</summary>
    Task<ThreadEntity?> UpdateThreadAsync(ThreadScope scope, string threadId, Action<ThreadEntity> change, CancellationToken cancellationToken);

    /// <summary>Deletes the thread with its messages and turn records; false when not found.</summary>
    Task<bool> DeleteThreadAsync(ThreadScope scope, string threadId, CancellationToken cancellationToken);

    /// <summary>The messages of a thread after <paramref name="afterSeq"/>, in order, as the context window reads them
    /// (<see cref="ContextMessage.Tokens"/> is 0 for a message stored without a count).</summary>
    Task<List<ContextMessage>> LoadHistoryAsync(string threadId, long afterSeq, CancellationToken cancellationToken);

    /// <summary>A page of a thread's messages in sequence order; null when a cursor names no message of the thread.</summary>
    Task<StorePage<ThreadMessageEntity>?> ListMessagesAsync(string threadId, PageOptions page, CancellationToken cancellationToken);

    Task<ThreadTurnRecordEntity?> FindTurnRecordAsync(string threadId, string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>Persists a turn in one transaction: both messages (numbered after the thread's last), the thread's update time,
    /// and the idempotency record when there is one. False when the thread no longer exists.</summary>
    Task<bool> AppendTurnAsync(string threadId, ThreadMessageEntity user, ThreadMessageEntity reply, ThreadTurnRecordEntity? record, long nowMs, CancellationToken cancellationToken);

    /// <summary>Appends messages (numbered after the thread's last) and updates the thread's time, in one transaction; false
    /// when the thread no longer exists.</summary>
    Task<bool> AppendMessagesAsync(string threadId, IReadOnlyList<ThreadMessageEntity> messages, long nowMs, CancellationToken cancellationToken);

    /// <summary>Stores the thread's new summary and the last message it folds in; false when the thread no longer exists.</summary>
    Task<bool> SaveSummaryAsync(string threadId, ThreadSummaryUpdate summary, CancellationToken cancellationToken);

    /// <summary>Deletes the threads (with messages, their search entries and turn records) last changed before
    /// <paramref name="cutoffMs"/>; the deleted threads' account and id.</summary>
    Task<IReadOnlyList<(string AccountId, string ThreadId)>> DeleteThreadsIdleSinceAsync(long cutoffMs, CancellationToken cancellationToken);

    /// <summary>Deletes an end user's threads (with messages and turn records) and clears the end-user id on their ledger rows.</summary>
    Task<EndUserErasure> EraseEndUserAsync(string accountId, string endUserId, CancellationToken cancellationToken);
}

/// <summary>A summary written under the <c>summarize</c> strategy.</summary>
internal sealed record ThreadSummaryUpdate(string Text, long ThroughSeq, int SummarizedMessages, string RequestId, long NowMs);

/// <summary>A page read from the store.</summary>
internal sealed record StorePage<T>(IReadOnlyList<T> Items, bool HasMore);
