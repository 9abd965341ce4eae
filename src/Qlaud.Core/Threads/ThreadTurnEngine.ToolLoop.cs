using System.Text.Json;
using Qlaud.Storage;

namespace Qlaud.Threads;

/// <summary>A turn taken through the server-side tool loop (<see cref="IThreadToolLoop"/>): the same history, window and
/// persistence as a plain turn, the model called once per round trip through the metered in-process client.</summary>
/// <remarks>A streamed turn's events are written while the loop runs (<see cref="ToolLoopStream"/>); the persisted reply is
/// what was streamed. Nothing is persisted when the loop fails before anything was streamed; a failure after that ends the
/// stream with an <c>error</c> event and, like a client that went away, persists what was generated as <c>incomplete</c>.</remarks>
internal sealed partial class ThreadTurnEngine
{
    private async Task<TurnOutcome> RunToolLoopAsync(TurnInput input, Qlaud.Forwarding.ResponseSink client, ThreadEntity thread, string model, TurnFields turn, JsonElement system,
        List<ContextMessage> messages, long userTokens, ThreadContextReport context, string mode, bool stream, CancellationToken cancellationToken)
    {
        // A turn on an end user's thread is that end user's usage, also when an account-wide key takes it.
        var caller = input.Caller.EndUserId is null && thread.EndUserId is not null ? input.Caller with { EndUserId = thread.EndUserId } : input.Caller;
        if (stream)
        {
            return await StreamToolLoopAsync(input, client, thread, model, turn, system, messages, userTokens, context, mode, caller, cancellationToken).ConfigureAwait(false);
        }

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

    private async Task<TurnOutcome> StreamToolLoopAsync(TurnInput input, Qlaud.Forwarding.ResponseSink client, ThreadEntity thread, string model, TurnFields turn, JsonElement system,
        List<ContextMessage> messages, long userTokens, ThreadContextReport context, string mode, QlaudCaller caller, CancellationToken cancellationToken)
    {
        string userId = ThreadIds.NewMessageId(time);
        string replyId = ThreadIds.NewMessageId(time);
        var ids = new TurnIds(thread.Id, userId, replyId, model, turn.ContentJson, userTokens, input);
        var events = new ToolLoopStream(client, TurnHeaders(thread.Id, userId, replyId, context), model);
        ToolLoopReply loop;
        using (var body = BuildRequest(input.Body, model, turn, system, messages, stream: false))
        {
            try
            {
                loop = await toolLoop!.RunAsync(new ToolLoopTurn(caller, mode, body.WrittenMemory.ToArray(), events), cancellationToken).ConfigureAwait(false);
            }
            catch (QlaudException ex) when (!events.Started)
            {
                return TurnOutcome.Failed(ex.Error);
            }
            catch (QlaudException ex)
            {
                if (!events.Ended)
                {
                    await events.FailAsync(ex.Error, cancellationToken).ConfigureAwait(false);
                }

                await PersistAsync(ids, events.Reply() with { Complete = false }, null, null, null, CancellationToken.None).ConfigureAwait(false);
                return new TurnOutcome(null, null, null, null, Streamed: true);
            }
            catch (OperationCanceledException) when (events.Started)
            {
                // The client went away (or the host stops) mid-stream: keep what was generated, marked incomplete.
                await PersistAsync(ids, events.Reply() with { Complete = false }, null, null, null, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
        }

        // The stored answer of an idempotent turn is the whole message the events made up.
        byte[]? whole = input.IdempotencyKey is null ? null : Augment(loop.Reply.ToMessageJson(model), thread.Id, userId, replyId, context);
        await PersistAsync(ids, loop.Reply, loop.Route, loop.Usage, whole, CancellationToken.None, loop.CostMicros).ConfigureAwait(false);
        return new TurnOutcome(null, null, null, null, Streamed: true);
    }
}
