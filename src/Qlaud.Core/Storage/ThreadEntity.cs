namespace Qlaud.Storage;

/// <summary>A managed conversation: its owner (account, end user, the key that created it) and its defaults.</summary>
internal sealed class ThreadEntity
{
    /// <summary><c>thr_</c> and 24 base32 characters.</summary>
    public required string Id { get; set; }

    public required string AccountId { get; set; }

    /// <summary>The app's end user the thread belongs to; null for a thread of the account itself.</summary>
    public string? EndUserId { get; set; }

    /// <summary>The key that created the thread (not its secret).</summary>
    public string? KeyId { get; set; }

    public string? Title { get; set; }

    /// <summary>The thread's metadata as a JSON object of strings; null when none was set.</summary>
    public string? MetadataJson { get; set; }

    /// <summary>The model used when a turn names none.</summary>
    public string? Model { get; set; }

    /// <summary>The system prompt sent with every turn unless the turn brings its own.</summary>
    public string? System { get; set; }

    /// <summary>The next message sequence number: messages are ordered by it, assigned under the thread's turn lock.</summary>
    public long NextSeq { get; set; }

    public long CreatedAtMs { get; set; }

    public long UpdatedAtMs { get; set; }
}
