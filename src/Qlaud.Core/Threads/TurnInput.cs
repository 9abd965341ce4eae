using System.Text.Json;
using Qlaud.Providers;

namespace Qlaud.Threads;

/// <summary>One posted turn, as the surface received it.</summary>
internal sealed record TurnInput(QlaudCaller Caller, string ThreadId, JsonElement Body, string? IdempotencyKey, string RequestId, bool AllowStream,
    ForwardedHeaders Headers = default);

/// <summary>How a turn ended, for the surface to answer.</summary>
/// <param name="Error">An error not yet written (nothing was persisted).</param>
/// <param name="Result">The turn's answer (persisted, or replayed) when it was not streamed.</param>
/// <param name="ResultJson">The body to send with <paramref name="Result"/>.</param>
/// <param name="UpstreamAnswer">An upstream error answer held back, to relay as it is.</param>
/// <param name="Streamed">Whether the answer was streamed to the client already.</param>
internal sealed record TurnOutcome(QlaudError? Error, ThreadTurnResult? Result, byte[]? ResultJson, (int Status, string ContentType, ReadOnlyMemory<byte> Body)? UpstreamAnswer, bool Streamed)
{
    /// <summary>Whether a replayed answer is to be sent as the stream events of its message (the retried post asked for a stream).</summary>
    public bool ReplayAsStream { get; init; }

    public static TurnOutcome Failed(QlaudError error) => new(error, null, null, null, false);
}
