namespace Qlaud.Storage;

/// <summary>A batch job: who submitted it (the caller every request is metered to), its wire surface, and its state.</summary>
internal sealed class BatchEntity
{
    /// <summary><c>batch_</c> (OpenAI surface) or <c>msgbatch_</c> (Anthropic surface) and 26 base32 characters, ordered by creation.</summary>
    public required string Id { get; set; }

    /// <summary><c>openai</c> or <c>anthropic</c>: the API the batch was created through.</summary>
    public required string Surface { get; set; }

    /// <summary>The endpoint each request is sent to: <c>/v1/chat/completions</c>, <c>/v1/embeddings</c> or <c>/v1/messages</c>.</summary>
    public required string Endpoint { get; set; }

    public required string AccountId { get; set; }

    public string? KeyId { get; set; }

    public string? EndUserId { get; set; }

    /// <summary>Whether the submitting key was the account's master key.</summary>
    public bool CallerIsMaster { get; set; }

    /// <summary>Whether the submitting key was an admin-scope key.</summary>
    public bool CallerIsAdmin { get; set; }

    /// <summary>One of the <see cref="Batches.QlaudBatchStatus"/> names.</summary>
    public required string Status { get; set; }

    public string? InputFileId { get; set; }

    public string? OutputFileId { get; set; }

    public string? ErrorFileId { get; set; }

    /// <summary>The completion window as the client sent it (<c>24h</c>).</summary>
    public required string CompletionWindow { get; set; }

    /// <summary>The batch's metadata as a JSON object of strings; null when none was set.</summary>
    public string? MetadataJson { get; set; }

    /// <summary>Validation errors as a JSON array of <c>{code, message, param, line}</c>; null when the input was valid.</summary>
    public string? ErrorsJson { get; set; }

    public int RequestCount { get; set; }

    /// <summary>The provider a native batch was submitted to (its own batch API); null when Qlaud runs the requests itself.</summary>
    public string? NativeProvider { get; set; }

    /// <summary>The provider's id of the native batch.</summary>
    public string? NativeBatchId { get; set; }

    /// <summary>The submission marker: a Qlaud-generated token written (with <see cref="NativeProvider"/> and
    /// <see cref="NativeSubmittingAtMs"/>) before the batch is submitted to the provider's batch API, and sent with it where the
    /// provider keeps one (OpenAI's batch <c>metadata</c>). A marker without <see cref="NativeBatchId"/> after a restart means the
    /// provider may have accepted the batch: it is looked for there before anything is submitted again.</summary>
    public string? NativeSubmitToken { get; set; }

    /// <summary>When the submission marker was written, Unix milliseconds.</summary>
    public long? NativeSubmittingAtMs { get; set; }

    /// <summary>Whether the provider was asked to cancel the native batch.</summary>
    public bool NativeCancelSent { get; set; }

    /// <summary>Succeeded requests whose cost the provider's results did not report: charged from their estimate and flagged.</summary>
    public int UnpricedRequests { get; set; }

    public long CreatedAtMs { get; set; }

    public long ExpiresAtMs { get; set; }

    public long? InProgressAtMs { get; set; }

    public long? FinalizingAtMs { get; set; }

    public long? CompletedAtMs { get; set; }

    public long? FailedAtMs { get; set; }

    public long? ExpiredAtMs { get; set; }

    public long? CancellingAtMs { get; set; }

    public long? CancelledAtMs { get; set; }
}
