namespace Qlaud.Batches;

/// <summary>How many of a batch's requests are in each state, counted from the stored requests (live while the batch runs).</summary>
/// <param name="Total">Every request of the batch.</param>
/// <param name="Processing">Not finished yet.</param>
/// <param name="Succeeded">Answered with a 2xx status.</param>
/// <param name="Errored">Answered with an error.</param>
/// <param name="Canceled">Not sent because the batch was cancelled.</param>
/// <param name="Expired">Not sent because the completion window ended.</param>
public sealed record QlaudBatchRequestCounts(int Total, int Processing, int Succeeded, int Errored, int Canceled, int Expired);
