namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Threads</c> section: context summaries and retention of managed threads.</summary>
public sealed class ThreadsOptions
{
    /// <summary>The catalog model that writes a thread's summary under the <c>summarize</c> context strategy (a cheap model
    /// is enough). Unset: <c>summarize</c> is refused with a 400 and threads use <c>truncate</c>.</summary>
    /// <remarks>The summary call is routed, metered and charged like any other call, to the caller whose turn needed it.</remarks>
    public string? SummaryModel { get; set; }

    /// <summary>The <c>max_tokens</c> of a summary call, and the room kept for the summary in the context window. Default 1024.</summary>
    public int SummaryMaxTokens { get; set; } = 1024;

    /// <summary>Threads whose last turn or change is older than this many days are deleted in the background, with their
    /// messages and summaries. 0 (the default) keeps threads until they are deleted.</summary>
    public int RetentionDays { get; set; }

    /// <summary>How often, in minutes, the retention sweep runs (it also runs once at start-up). Default 60.</summary>
    public int RetentionSweepMinutes { get; set; } = 60;
}
