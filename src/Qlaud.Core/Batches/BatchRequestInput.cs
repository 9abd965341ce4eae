namespace Qlaud.Batches;

/// <summary>One request to put in a batch.</summary>
/// <param name="CustomId">The caller's id for the request, unique in the batch; results are matched by it.</param>
/// <param name="Body">The request body as it would be sent to the batch's endpoint (UTF-8 JSON); <c>stream</c> must not be true.</param>
public sealed record BatchRequestInput(string CustomId, ReadOnlyMemory<byte> Body);
