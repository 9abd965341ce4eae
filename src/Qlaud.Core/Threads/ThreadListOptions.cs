namespace Qlaud.Threads;

/// <summary>Which threads to list, and the page.</summary>
public sealed record ThreadListOptions : PageOptions
{
    /// <summary>Only this end user's threads (master and admin callers; an end-user key always sees only its own).</summary>
    public string? EndUserId { get; init; }
}
