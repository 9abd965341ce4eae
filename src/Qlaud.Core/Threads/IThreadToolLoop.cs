using Qlaud.Catalog;
using Qlaud.Metering;

namespace Qlaud.Threads;

/// <summary>The server-side tool loop a thread turn runs in when its <c>tools_mode</c> (or the default) asks for one; provided by
/// Qlaud.Connectors.</summary>
internal interface IThreadToolLoop
{
    /// <summary>The turn's tool mode (<c>dynamic</c>, <c>static</c>) when the loop runs it; null to take the turn without the loop
    /// (also when the turn named no mode and <paramref name="model"/> cannot call tools).</summary>
    string? ModeFor(TurnFields turn, string model);

    /// <summary>Runs the loop for one turn: every model round trip metered to <see cref="ToolLoopTurn.Caller"/>.</summary>
    Task<ToolLoopReply> RunAsync(ToolLoopTurn turn, CancellationToken cancellationToken);
}

/// <summary>One turn for the tool loop.</summary>
/// <param name="Caller">Who the turn is metered to (the thread's end user).</param>
/// <param name="Mode"><c>dynamic</c> or <c>static</c>.</param>
/// <param name="AnthropicRequest">The turn's Anthropic Messages request as the engine built it (history fitted to the window,
/// the client's own <c>tools</c> passed through), without <c>stream</c>.</param>
/// <param name="Stream">Where a streamed turn's events go while the loop runs; null for a whole answer.</param>
internal sealed record ToolLoopTurn(QlaudCaller Caller, string Mode, ReadOnlyMemory<byte> AnthropicRequest, ToolLoopStream? Stream = null);

/// <summary>What the loop produced.</summary>
/// <param name="Reply">The reply to persist (of a streamed turn: what was streamed): text, <c>mcp_tool_use</c>/<c>mcp_tool_result</c> blocks and client <c>tool_use</c> blocks.</param>
/// <param name="Route">The route of the last round trip.</param>
/// <param name="Usage">Tokens of every round trip, summed.</param>
/// <param name="CostMicros">Charged cost of every round trip, summed.</param>
/// <param name="RoundTrips">Model round trips made.</param>
internal sealed record ToolLoopReply(CapturedReply Reply, CatalogRoute? Route, TokenUsage Usage, long CostMicros, int RoundTrips);
