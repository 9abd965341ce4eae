namespace Qlaud.Batches;

/// <summary>A batch job as its submitter sees it.</summary>
public sealed record QlaudBatch
{
    /// <summary><c>batch_…</c> (OpenAI surface) or <c>msgbatch_…</c> (Anthropic surface).</summary>
    public required string Id { get; init; }

    /// <summary><c>openai</c> or <c>anthropic</c>: the API the batch was created through.</summary>
    public required string Surface { get; init; }

    /// <summary>The endpoint every request targets (<see cref="QlaudBatchEndpoint"/>).</summary>
    public required string Endpoint { get; init; }

    /// <summary>The batch's state.</summary>
    public required QlaudBatchStatus Status { get; init; }

    /// <summary>Live counts of the requests by state.</summary>
    public required QlaudBatchRequestCounts RequestCounts { get; init; }

    /// <summary>The uploaded input file (OpenAI surface).</summary>
    public string? InputFileId { get; init; }

    /// <summary>The file of successful results, once the batch ended (OpenAI surface).</summary>
    public string? OutputFileId { get; init; }

    /// <summary>The file of failed, canceled and expired requests' results, once the batch ended with any (OpenAI surface).</summary>
    public string? ErrorFileId { get; init; }

    /// <summary>The completion window as sent (<c>24h</c>).</summary>
    public required string CompletionWindow { get; init; }

    /// <summary>The caller's metadata.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Why the input was rejected, when <see cref="Status"/> is <see cref="QlaudBatchStatus.Failed"/>.</summary>
    public IReadOnlyList<QlaudBatchError>? Errors { get; init; }

    /// <summary>The provider the batch was submitted to through its own batch API (charged at the route's batch discount);
    /// null when Qlaud runs the requests itself at the normal price.</summary>
    public string? NativeProvider { get; init; }

    /// <summary>Succeeded requests whose cost the provider's results did not report: charged from their worst-case estimate
    /// and logged as an error, never as zero.</summary>
    public int UnpricedRequests { get; init; }

    /// <summary>The end user the batch belongs to (the submitting key's), if any.</summary>
    public string? EndUserId { get; init; }

    /// <summary>When the batch was created, Unix milliseconds.</summary>
    public long CreatedAtMs { get; init; }

    /// <summary>When the completion window ends, Unix milliseconds.</summary>
    public long ExpiresAtMs { get; init; }

    /// <summary>When the worker started running the batch.</summary>
    public long? InProgressAtMs { get; init; }

    /// <summary>When every request had finished and results started being written.</summary>
    public long? FinalizingAtMs { get; init; }

    /// <summary>When the batch completed.</summary>
    public long? CompletedAtMs { get; init; }

    /// <summary>When validation failed.</summary>
    public long? FailedAtMs { get; init; }

    /// <summary>When the batch expired.</summary>
    public long? ExpiredAtMs { get; init; }

    /// <summary>When cancellation was asked.</summary>
    public long? CancellingAtMs { get; init; }

    /// <summary>When the batch was cancelled.</summary>
    public long? CancelledAtMs { get; init; }

    /// <summary>Whether the batch ended (completed, failed, expired or cancelled): its results are final.</summary>
    public bool IsEnded => Status is QlaudBatchStatus.Completed or QlaudBatchStatus.Failed or QlaudBatchStatus.Expired or QlaudBatchStatus.Cancelled;

    /// <summary>When processing ended (completed, failed, expired or cancelled).</summary>
    public long? EndedAtMs => CompletedAtMs ?? FailedAtMs ?? ExpiredAtMs ?? CancelledAtMs;
}
