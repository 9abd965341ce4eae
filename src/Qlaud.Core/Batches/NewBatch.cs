namespace Qlaud.Batches;

/// <summary>A batch to create from a list of requests.</summary>
public sealed record NewBatch
{
    /// <summary>The endpoint every request targets (<see cref="QlaudBatchEndpoint"/>).</summary>
    public required string Endpoint { get; init; }

    /// <summary>The requests, in order.</summary>
    public required IReadOnlyList<BatchRequestInput> Requests { get; init; }

    /// <summary><c>openai</c> (ids <c>batch_…</c>) or <c>anthropic</c> (ids <c>msgbatch_…</c>); default <c>anthropic</c> for
    /// <see cref="QlaudBatchEndpoint.Messages"/>, else <c>openai</c>.</summary>
    public string? Surface { get; init; }

    /// <summary>How long the batch may run, as <c>{n}h</c>, <c>{n}m</c> or <c>{n}s</c> up to <c>24h</c> (default <c>24h</c>).</summary>
    public string CompletionWindow { get; init; } = "24h";

    /// <summary>Metadata stored with the batch.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}
