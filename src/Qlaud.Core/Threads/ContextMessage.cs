namespace Qlaud.Threads;

/// <summary>A message of a thread as the context window sees it.</summary>
/// <param name="Role"><c>user</c> or <c>assistant</c>.</param>
/// <param name="ContentJson">A JSON array of Anthropic content blocks.</param>
/// <param name="Tokens">Its input-token count (<see cref="ContextWindow.Estimate"/>).</param>
/// <param name="Seq">Its place in the thread; -1 for the new message.</param>
internal readonly record struct ContextMessage(string Role, string ContentJson, long Tokens, long Seq = -1);
