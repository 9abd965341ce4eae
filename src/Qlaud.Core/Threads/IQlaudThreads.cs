namespace Qlaud.Threads;

/// <summary>
/// Managed threads: conversation state kept by Qlaud. Post the next user turn and Qlaud loads the history, fits it to the
/// model's context window, calls the model through the gateway (routing, translation and metering as on <c>/v1/messages</c>)
/// and persists the turn with its reply. The <c>/v1/threads</c> endpoints call this service.
/// </summary>
/// <remarks>
/// <para>Every call names its <see cref="QlaudCaller"/>. The master key and admin-scope keys see every thread of their
/// account; an end-user key sees only its end user's threads, and a key without an end user only the threads it created.
/// A thread the caller may not see is reported exactly like a thread that does not exist (null, or a not-found error).</para>
/// <para>Failures are <see cref="QlaudException"/>s carrying the <see cref="QlaudError"/> the HTTP surface answers with.</para>
/// </remarks>
public interface IQlaudThreads
{
    /// <summary>Creates a thread owned by <paramref name="caller"/> (and by the end user it names or is bound to).</summary>
    Task<QlaudThread> CreateAsync(QlaudCaller caller, NewThread thread, CancellationToken cancellationToken = default);

    /// <summary>Lists the threads <paramref name="caller"/> may see, newest first unless <see cref="PageOptions.Order"/> says otherwise.</summary>
    Task<QlaudPage<QlaudThread>> ListAsync(QlaudCaller caller, ThreadListOptions options, CancellationToken cancellationToken = default);

    /// <summary>The thread, or null when it does not exist or <paramref name="caller"/> may not see it.</summary>
    Task<QlaudThread?> GetAsync(QlaudCaller caller, string threadId, CancellationToken cancellationToken = default);

    /// <summary>Changes a thread's title, metadata, default model or system prompt; null when not found.</summary>
    Task<QlaudThread?> UpdateAsync(QlaudCaller caller, string threadId, ThreadChanges changes, CancellationToken cancellationToken = default);

    /// <summary>Deletes a thread and all its messages; false when not found.</summary>
    Task<bool> DeleteAsync(QlaudCaller caller, string threadId, CancellationToken cancellationToken = default);

    /// <summary>A page of a thread's messages, or null when the thread is not found.</summary>
    Task<QlaudPage<QlaudThreadMessage>?> ListMessagesAsync(QlaudCaller caller, string threadId, PageOptions options, CancellationToken cancellationToken = default);

    /// <summary>Takes one turn: the new user message in, the model's reply out, both persisted together.</summary>
    /// <remarks>
    /// Turns on one thread run one at a time, in arrival order. On an upstream failure nothing is persisted and nothing is
    /// charged, so a retry is safe; with <see cref="ThreadTurnRequest.IdempotencyKey"/> a retry of a turn that did succeed
    /// returns its first answer instead of taking a second turn. In process the answer is never streamed.
    /// </remarks>
    Task<ThreadTurnResult> AppendTurnAsync(QlaudCaller caller, string threadId, ThreadTurnRequest request, CancellationToken cancellationToken = default);

    /// <summary>Erases an end user: every thread and message of theirs is deleted, and their ledger rows lose the end-user id
    /// (the amounts stay). Master or admin callers only.</summary>
    Task<EndUserErasure> EraseEndUserAsync(QlaudCaller caller, string endUserId, CancellationToken cancellationToken = default);
}
