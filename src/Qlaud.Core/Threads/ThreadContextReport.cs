namespace Qlaud.Threads;

/// <summary>What a turn sent to the model: the <c>context</c> object of the answer.</summary>
/// <param name="Strategy">The context strategy applied (<c>truncate</c> or <c>summarize</c>).</param>
/// <param name="MessagesSent">Messages sent, the new user message included.</param>
/// <param name="MessagesDropped">Oldest history messages left out to fit the context window, neither sent nor summarized.</param>
/// <param name="EstimatedInputTokens">The input-token estimate of what was sent.</param>
/// <param name="ContextLength">The context length the turn was fitted to.</param>
public sealed record ThreadContextReport(string Strategy, int MessagesSent, int MessagesDropped, long EstimatedInputTokens, long ContextLength)
{
    /// <summary>Oldest history messages the summary sent with the turn stands for (<c>summarize</c>); 0 when no summary was sent.</summary>
    public int SummarizedMessages { get; init; }

    /// <summary>Whether this turn folded more messages into the thread's summary (a summary call was made and charged).</summary>
    public bool SummaryUpdated { get; init; }
}
