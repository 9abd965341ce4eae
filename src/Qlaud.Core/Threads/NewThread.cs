namespace Qlaud.Threads;

/// <summary>A thread to create.</summary>
public sealed record NewThread
{
    /// <summary>The end user the thread belongs to. An end-user key may name only its own end user (or none: its own is used).</summary>
    public string? EndUserId { get; init; }

    /// <summary>A display title.</summary>
    public string? Title { get; init; }

    /// <summary>The app's string key-value pairs (at most 16, keys up to 64 characters, values up to 512).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>The model used when a turn names none.</summary>
    public string? Model { get; init; }

    /// <summary>The system prompt sent with every turn that brings none of its own.</summary>
    public string? System { get; init; }

    /// <summary>The context strategy of the thread's turns: <c>truncate</c> (null: the default) or <c>summarize</c>
    /// (needs <c>Qlaud:Threads:SummaryModel</c>).</summary>
    public string? ContextStrategy { get; init; }
}
