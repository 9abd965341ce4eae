using System.Text.Json;
using Qlaud.Storage;

namespace Qlaud.Threads;

/// <summary>A turn taken through the server-side tool loop (<see cref="IThreadToolLoop"/>): the same history, window and
/// persistence as a plain turn, the model called once per round trip through the metered in-process client.</summary>
/// <remarks>A streamed turn's events are written when the loop has finished (each block, <c>mcp_tool_use</c> and
/// <c>mcp_tool_result</c> included, as its own content block); nothing is persisted when the loop fails.</remarks>
internal sealed partial class ThreadTurnEngine
{
    private async Task<TurnOutcome> RunToolLoopAsync(TurnInput input, ThreadEntity thread, string model, TurnFields turn, JsonElement system,
        List<ContextMessage> messages, long userTokens, ThreadContextReport context, string mode, bool stream, CancellationToken cancellationToken)
    {
        // A turn on an end user's thread is that end user's usage, also when an account-wide key takes it.
        var caller = input.Caller.EndUserId is null && thread.EndUserId is not null ? input.Caller with { EndUserId = thread.EndUserId } : input.Caller;
        ToolLoopReply loop;
        using (var body = BuildRequest(input.Body, model, turn, system, messages, stream: false))
        {
            try
            {
                loop = await toolLoop!.RunAsync(new ToolLoopTurn(caller, mode, body.WrittenMemory.ToArray()), cancellationToken).ConfigureAwait(false);
            }
            catch (QlaudException ex)
            {
                return TurnOutcome.Failed(ex.Error);
            }
        }

        string userId = ThreadIds.NewMessageId(time);
        string replyId = ThreadIds.NewMessageId(time);
        byte[] answer = Augment(loop.Reply.ToMessageJson(model), thread.Id, userId, replyId, context);
        var ids = new TurnIds(thread.Id, userId, replyId, model, turn.ContentJson, userTokens, input);
        await PersistAsync(ids, loop.Reply, loop.Route, loop.Usage, answer, CancellationToken.None, loop.CostMicros).ConfigureAwait(false);
        using var document = JsonDocument.Parse(answer);
        return new TurnOutcome(null, new ThreadTurnResult(document.RootElement.Clone(), thread.Id, userId, replyId, context, Replayed: false), answer, null, false)
        {
            ReplayAsStream = stream,
        };
    }
}
