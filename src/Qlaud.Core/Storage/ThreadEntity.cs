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

    /// <summary>The thread's context strategy (<c>truncate</c> or <c>summarize</c>); null for the default, <c>truncate</c>.</summary>
    public string? ContextStrategy { get; set; }

    /// <summary>The summary of the thread's oldest messages under the <c>summarize</c> strategy; null before the first fold.</summary>
    public string? Summary { get; set; }

    /// <summary>The sequence number of the last message folded into <see cref="Summary"/>: later turns send the summary and
    /// the messages after it.</summary>
    public long? SummaryThroughSeq { get; set; }

    /// <summary>How many messages <see cref="Summary"/> stands for.</summary>
    public int SummarizedMessages { get; set; }

    /// <summary>The request id of the call that wrote <see cref="Summary"/> (its ledger entry's <c>request_id</c>).</summary>
    public string? SummaryRequestId { get; set; }

    /// <summary>When <see cref="Summary"/> was written, Unix milliseconds.</summary>
    public long? SummaryUpdatedAtMs { get; set; }

    /// <summary>The next message sequence number: messages are ordered by it, assigned under the thread's turn lock.</summary>
    public long NextSeq { get; set; }

    public long CreatedAtMs { get; set; }

    public long UpdatedAtMs { get; set; }
}
