namespace Qlaud.Threads;

/// <summary>A managed thread.</summary>
/// <param name="Id">The thread id, <c>thr_…</c>.</param>
/// <param name="EndUserId">The end user it belongs to, if any.</param>
/// <param name="Title">A display title.</param>
/// <param name="Metadata">The app's string key-value pairs.</param>
/// <param name="Model">The model used when a turn names none.</param>
/// <param name="System">The system prompt sent with every turn that brings none of its own.</param>
/// <param name="CreatedAtMs">Creation time, Unix milliseconds.</param>
/// <param name="UpdatedAtMs">Time of the last change or turn, Unix milliseconds.</param>
public sealed record QlaudThread(string Id, string? EndUserId, string? Title, IReadOnlyDictionary<string, string> Metadata, string? Model, string? System,
    long CreatedAtMs, long UpdatedAtMs)
{
    /// <summary>The thread's context strategy, <c>truncate</c> (the default) or <c>summarize</c>; a turn may choose another.</summary>
    public string ContextStrategy { get; init; } = "truncate";

    /// <summary>The stored summary of the thread's oldest messages (<c>summarize</c>); null before the first fold.</summary>
    public QlaudThreadSummary? Summary { get; init; }
}
