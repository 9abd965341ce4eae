namespace Qlaud.Threads;

/// <summary>The summary a thread keeps of its oldest messages under the <c>summarize</c> context strategy.</summary>
/// <param name="Text">The summary, as the summary model wrote it.</param>
/// <param name="SummarizedMessages">How many of the thread's messages it stands for (the oldest ones).</param>
/// <param name="RequestId">The request id of the summary call, the <c>request_id</c> of its ledger entry.</param>
/// <param name="UpdatedAtMs">When it was written, Unix milliseconds.</param>
public sealed record QlaudThreadSummary(string Text, int SummarizedMessages, string? RequestId, long UpdatedAtMs);
