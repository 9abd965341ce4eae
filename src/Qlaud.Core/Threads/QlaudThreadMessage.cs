using System.Text.Json;

namespace Qlaud.Threads;

/// <summary>A persisted message of a thread.</summary>
/// <param name="Id">The message id, <c>msg_…</c>.</param>
/// <param name="ThreadId">The thread.</param>
/// <param name="Role"><c>user</c> or <c>assistant</c>.</param>
/// <param name="Content">A JSON array of Anthropic content blocks.</param>
/// <param name="Model">The model the turn asked for.</param>
/// <param name="Route">The route that answered (assistant messages).</param>
/// <param name="InputTokens">Input tokens of the turn's call (assistant messages; 0 on user messages).</param>
/// <param name="OutputTokens">Output tokens of the reply.</param>
/// <param name="CostMicros">What the turn was charged, micro-USD (assistant messages).</param>
/// <param name="RequestId">The gateway request id of the turn, as in the ledger.</param>
/// <param name="StopReason">The reply's <c>stop_reason</c>, when it reported one.</param>
/// <param name="Status"><c>complete</c>, or <c>incomplete</c> for a reply cut short.</param>
/// <param name="CreatedAtMs">Creation time, Unix milliseconds.</param>
public sealed record QlaudThreadMessage(string Id, string ThreadId, string Role, JsonElement Content, string? Model, string? Route,
    long InputTokens, long OutputTokens, long CostMicros, string? RequestId, string? StopReason, string Status, long CreatedAtMs);
