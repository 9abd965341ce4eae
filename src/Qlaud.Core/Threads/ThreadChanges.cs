namespace Qlaud.Threads;

/// <summary>A change to a thread: only the fields set here change (set a field to null to clear it).</summary>
public sealed record ThreadChanges
{
    /// <summary>Whether <see cref="Title"/> is to be applied.</summary>
    public bool SetTitle { get; init; }

    /// <summary>The new title.</summary>
    public string? Title { get; init; }

    /// <summary>Whether <see cref="Metadata"/> is to be applied (it replaces the whole map).</summary>
    public bool SetMetadata { get; init; }

    /// <summary>The new metadata.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Whether <see cref="Model"/> is to be applied.</summary>
    public bool SetModel { get; init; }

    /// <summary>The new default model.</summary>
    public string? Model { get; init; }

    /// <summary>Whether <see cref="System"/> is to be applied.</summary>
    public bool SetSystem { get; init; }

    /// <summary>The new system prompt.</summary>
    public string? System { get; init; }

    /// <summary>Whether <see cref="ContextStrategy"/> is to be applied.</summary>
    public bool SetContextStrategy { get; init; }

    /// <summary>The new context strategy: <c>truncate</c>, <c>summarize</c>, or null for the default.</summary>
    public string? ContextStrategy { get; init; }
}
