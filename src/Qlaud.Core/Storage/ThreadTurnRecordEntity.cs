namespace Qlaud.Storage;

/// <summary>The answer of a thread turn posted with an <c>Idempotency-Key</c>, so a retry gets it instead of a second turn.</summary>
internal sealed class ThreadTurnRecordEntity
{
    public long Id { get; set; }

    public required string ThreadId { get; set; }

    /// <summary>The client's <c>Idempotency-Key</c>, unique per thread.</summary>
    public required string IdempotencyKey { get; set; }

    public required string UserMessageId { get; set; }

    public required string AssistantMessageId { get; set; }

    /// <summary>The JSON answer the first post got (the Anthropic Messages response with the thread fields).</summary>
    public required string ResponseJson { get; set; }

    public long CreatedAtMs { get; set; }
}
