namespace Qlaud.Storage;

/// <summary>One persisted message of a thread, its content in the Anthropic content-block shape.</summary>
internal sealed class ThreadMessageEntity
{
    /// <summary><c>msg_</c> and 24 base32 characters.</summary>
    public required string Id { get; set; }

    public required string ThreadId { get; set; }

    /// <summary>The message's place in its thread (0, 1, 2, …): the order turns were taken in.</summary>
    public long Seq { get; set; }

    /// <summary><c>user</c> or <c>assistant</c>.</summary>
    public required string Role { get; set; }

    /// <summary>A JSON array of Anthropic content blocks (<c>text</c>, <c>image</c>, <c>tool_use</c>, <c>tool_result</c>, <c>thinking</c>, …).</summary>
    public required string ContentJson { get; set; }

    /// <summary>The model slug the turn asked for.</summary>
    public string? Model { get; set; }

    /// <summary>The route that answered (<c>provider/upstream-model</c>); assistant messages only.</summary>
    public string? Route { get; set; }

    /// <summary>The message's own input-token count for fitting the context window (<c>ContextWindow.Estimate</c>, the
    /// tokenizer <c>count_tokens</c> uses), counted once when the message is stored so a turn tokenizes only its new
    /// message; 0 when not counted (the turn counts it then).</summary>
    public long ContextTokens { get; set; }

    public long InputTokens { get; set; }

    public long OutputTokens { get; set; }

    /// <summary>What the turn was charged (upstream cost plus markup), in micro-USD; assistant messages only.</summary>
    public long CostMicros { get; set; }

    /// <summary>The gateway's request id of the turn (its ledger entry's <c>request_id</c>).</summary>
    public string? RequestId { get; set; }

    /// <summary>The assistant reply's <c>stop_reason</c>, when it reported one.</summary>
    public string? StopReason { get; set; }

    /// <summary><c>complete</c>, or <c>incomplete</c> for a reply cut short (the client went away or the stream broke).</summary>
    public required string Status { get; set; }

    public long CreatedAtMs { get; set; }
}
