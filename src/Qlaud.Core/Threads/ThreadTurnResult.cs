using System.Text.Json;

namespace Qlaud.Threads;

/// <summary>The answer of a thread turn.</summary>
/// <param name="Response">The Anthropic Messages response with <c>thread_id</c>, <c>user_message_id</c>,
/// <c>assistant_message_id</c> and <c>context</c> added.</param>
/// <param name="ThreadId">The thread.</param>
/// <param name="UserMessageId">The persisted user message.</param>
/// <param name="AssistantMessageId">The persisted reply.</param>
/// <param name="Context">What the context window held.</param>
/// <param name="Replayed">Whether this is the stored first answer of an idempotent retry.</param>
public sealed record ThreadTurnResult(JsonElement Response, string ThreadId, string UserMessageId, string AssistantMessageId, ThreadContextReport? Context, bool Replayed);
