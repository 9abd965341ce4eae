namespace Qlaud.Batches;

/// <summary>The result of one request of a batch.</summary>
/// <param name="CustomId">The caller's id for the request.</param>
/// <param name="Index">The request's position in the batch, from 0.</param>
/// <param name="State">How it ended.</param>
/// <param name="StatusCode">The answer's HTTP status (null when canceled or expired).</param>
/// <param name="Body">The answer's body: the response JSON on success, an error envelope in the batch's surface otherwise
/// (null when canceled or expired).</param>
/// <param name="RequestId">The gateway's request id, also on the request's ledger entry.</param>
public sealed record QlaudBatchResult(string CustomId, int Index, BatchRequestState State, int? StatusCode, ReadOnlyMemory<byte>? Body, string? RequestId);
