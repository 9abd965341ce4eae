namespace Qlaud.Threads;

/// <summary>What a turn sent to the model: the <c>context</c> object of the answer.</summary>
/// <param name="Strategy">The context strategy applied (<c>truncate</c>).</param>
/// <param name="MessagesSent">Messages sent, the new user message included.</param>
/// <param name="MessagesDropped">Oldest history messages left out to fit the context window.</param>
/// <param name="EstimatedInputTokens">The input-token estimate of what was sent.</param>
/// <param name="ContextLength">The context length the turn was fitted to.</param>
public sealed record ThreadContextReport(string Strategy, int MessagesSent, int MessagesDropped, long EstimatedInputTokens, long ContextLength);
