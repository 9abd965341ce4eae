using Qlaud.Threads;

namespace Qlaud.Search;

/// <summary>Which indexed messages a search looks at: the caller's visible threads (<see cref="ThreadScope"/>) and the request's filters.</summary>
internal readonly record struct SearchScope(string AccountId, string? EndUserId, string? KeyId, string? ThreadId, long? AfterMs, long? BeforeMs)
{
    public static SearchScope For(QlaudCaller caller, SearchRequest request)
    {
        var threads = ThreadScope.For(caller, request.EndUserId);
        return new SearchScope(threads.AccountId, threads.EndUserId, threads.KeyId, request.ThreadId, request.AfterMs, request.BeforeMs);
    }

    /// <summary>Whether a message with these properties is in scope (the account is checked by the caller).</summary>
    public bool Admits(string? endUserId, string? keyId, string threadId, long createdAtMs)
        => (EndUserId is null || string.Equals(EndUserId, endUserId, StringComparison.Ordinal))
            && (KeyId is null || string.Equals(KeyId, keyId, StringComparison.Ordinal))
            && (ThreadId is null || string.Equals(ThreadId, threadId, StringComparison.Ordinal))
            && (AfterMs is not { } after || createdAtMs > after)
            && (BeforeMs is not { } before || createdAtMs < before);
}
