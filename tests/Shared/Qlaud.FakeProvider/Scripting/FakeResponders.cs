namespace Qlaud.FakeProvider;

/// <summary>Ready-made <see cref="FakeProviderServer.Responder"/> functions: scripted behaviour over many requests.</summary>
public static class FakeResponders
{
    /// <summary>
    /// Answers one chat request in every <paramref name="every"/> with <paramref name="failure"/> and the others with
    /// <paramref name="otherwise"/>, counting from the first: requests 1, 1 + every, 1 + 2 × every, … fail.
    /// </summary>
    /// <param name="every">1 fails every request, 2 every other one (1, 3, 5, …), and so on.</param>
    /// <param name="failure">The reply of the failing requests, e.g. <c>FakeReply.Error(503)</c>.</param>
    /// <param name="otherwise">The reply of the other requests.</param>
    /// <remarks>
    /// Deterministic and thread-safe: requests are numbered in the order they reach the responder (an interlocked counter),
    /// so under any concurrency exactly one in <paramref name="every"/> fails. Only requests the queue did not answer reach a
    /// responder, and only chat requests are counted.
    /// </remarks>
    public static Func<RecordedRequest, FakeReply> FailEvery(int every, FakeReply failure, FakeReply otherwise)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(every, 1);
        ArgumentNullException.ThrowIfNull(failure);
        ArgumentNullException.ThrowIfNull(otherwise);
        long count = 0;
        return _ => (Interlocked.Increment(ref count) - 1) % every == 0 ? failure : otherwise;
    }
}
