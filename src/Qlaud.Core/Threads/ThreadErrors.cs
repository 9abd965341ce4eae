namespace Qlaud.Threads;

/// <summary>The errors of the thread service.</summary>
internal static class ThreadErrors
{
    /// <summary>A thread that does not exist or that the caller may not see: the same answer, so existence does not leak.</summary>
    public static QlaudError NotFound(string threadId) => new(QlaudErrorKind.NotFound, $"No thread '{threadId}'.", "not_found");
}
