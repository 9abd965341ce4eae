namespace Qlaud.Storage;

/// <summary>One request of a batch: its input and, once it finished, its result. Its state is what makes the worker resumable:
/// a request with a result is never sent again.</summary>
internal sealed class BatchRequestEntity
{
    public long Id { get; set; }

    public required string BatchId { get; set; }

    /// <summary>The request's position in the batch, from 0 (the input file's line number minus one).</summary>
    public int Index { get; set; }

    public required string CustomId { get; set; }

    /// <summary>The request body (UTF-8 JSON) as the client sent it.</summary>
    public required byte[] Body { get; set; }

    /// <summary>One of the <see cref="Batches.BatchRequestState"/> names.</summary>
    public required string State { get; set; }

    /// <summary>The HTTP status of the answer (200 for a success, the error's status otherwise); null before it finished or when canceled or expired.</summary>
    public int? StatusCode { get; set; }

    /// <summary>The answer's body (UTF-8 JSON: the response, or an error envelope in the batch's surface).</summary>
    public byte[]? ResponseBody { get; set; }

    /// <summary>The gateway's request id, also on the request's ledger entry.</summary>
    public string? RequestId { get; set; }

    public long? FinishedAtMs { get; set; }
}
