using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Catalog;
using Qlaud.Configuration;
using Qlaud.Dialects;
using Qlaud.Forwarding;
using Qlaud.Metering;
using Qlaud.Routing;
using Qlaud.Storage;

namespace Qlaud.Threads;

/// <summary>
/// Takes a thread turn: loads the history under the thread's turn lock, fits it to the model's context window, builds an
/// Anthropic Messages request and runs it through <see cref="ChatForwarder"/> exactly as <c>POST /v1/messages</c> does
/// (routing, translation, metering), then persists the user message and the reply together.
/// </summary>
/// <remarks>
/// Nothing is persisted when no answer came (the forwarder released the reservation) or the upstream answered with an error.
/// A stream that broke off, or whose client went away, persists what was generated as an <c>incomplete</c> reply (the
/// forwarder charges it as generated).
/// </remarks>
internal sealed partial class ThreadTurnEngine(IThreadStore store, IThreadTurnLock locks, ChatForwarder forwarder, IOptions<QlaudOptions> options,
    TimeProvider time, ILogger<ThreadTurnEngine> logger, IThreadToolLoop? toolLoop = null)
{
    /// <summary>Fields sent on to the model as they are.</summary>
    private static readonly string[] PassedThrough = ["temperature", "top_p", "top_k", "stop_sequences", "metadata", "tools", "tool_choice", "thinking"];

    private readonly decimal _markupPercent = options.Value.Pricing.MarkupPercent;
    private readonly string? _summaryModel = options.Value.Threads.SummaryModel;
    private readonly int _summaryMaxTokens = options.Value.Threads.SummaryMaxTokens;

    public async ValueTask<TurnOutcome> RunAsync(TurnInput input, ResponseSink client, CancellationToken cancellationToken)
    {
        if (TurnFields.Parse(input.Body, out var turn) is { } invalid)
        {
            return TurnOutcome.Failed(Invalid(invalid));
        }

        var thread = await store.FindThreadAsync(ThreadScope.For(input.Caller), input.ThreadId, cancellationToken).ConfigureAwait(false);
        if (thread is null)
        {
            return TurnOutcome.Failed(ThreadErrors.NotFound(input.ThreadId));
        }

        string? model = turn.Model ?? thread.Model;
        if (model is null)
        {
            return TurnOutcome.Failed(Invalid("'model' is required: the thread has no default model."));
        }

        bool stream = turn.Stream && input.AllowStream;
        await using var turnLock = (await locks.AcquireAsync(thread.Id, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        if (input.IdempotencyKey is { } key && await store.FindTurnRecordAsync(thread.Id, key, cancellationToken).ConfigureAwait(false) is { } record)
        {
            var json = System.Text.Encoding.UTF8.GetBytes(record.ResponseJson);
            using var replay = JsonDocument.Parse(json);
            return new TurnOutcome(null, new ThreadTurnResult(replay.RootElement.Clone(), thread.Id, record.UserMessageId, record.AssistantMessageId, null, Replayed: true), json, null, false)
            {
                ReplayAsStream = stream,
            };
        }

        string strategy = turn.Strategy ?? thread.ContextStrategy ?? ContextWindow.Truncate;
        if (StrategyProblem(strategy, _summaryModel) is { } strategyProblem)
        {
            return TurnOutcome.Failed(Invalid(strategyProblem));
        }

        // A turn on an end user's thread is that end user's usage, also when an account-wide key takes it.
        var caller = input.Caller.EndUserId is null && thread.EndUserId is not null ? input.Caller with { EndUserId = thread.EndUserId } : input.Caller;

        // History (after the summary, under summarize), then the new user message; an incomplete reply that kept no content
        // is not sent. Stored messages carry their token counts, so only the new message is tokenized here.
        long afterSeq = strategy == ContextWindow.Summarize && thread.SummaryThroughSeq is { } folded ? folded : -1;
        var history = await store.LoadHistoryAsync(thread.Id, afterSeq, cancellationToken).ConfigureAwait(false);
        var messages = new List<ContextMessage>(history.Count + 1);
        JsonElement system = turn.System.ValueKind != JsonValueKind.Undefined ? turn.System
            : thread.System is { } threadSystem ? JsonSerializer.SerializeToElement(threadSystem, ThreadJsonContext.Default.String) : default;

        ContextPlan plan;
        long userTokens;
        try
        {
            foreach (var message in history)
            {
                if (message.ContentJson != "[]")
                {
                    messages.Add(message.Tokens > 0 ? message : message with { Tokens = ContextWindow.Estimate(message.Role, message.ContentJson) });
                }
            }

            userTokens = ContextWindow.Estimate("user", turn.ContentJson);
            messages.Add(new ContextMessage("user", turn.ContentJson, userTokens));
            plan = await FitAsync(thread, turn, model, strategy, system, messages, input, caller, cancellationToken).ConfigureAwait(false);
        }
        catch (DialectException ex)
        {
            return TurnOutcome.Failed(Invalid(ex.Message));
        }

        if (plan.Error is { } contextError)
        {
            return TurnOutcome.Failed(contextError);
        }

        var context = plan.Report!;
        system = plan.System;
        if (toolLoop?.ModeFor(turn, model) is { } toolsMode)
        {
            return await RunToolLoopAsync(input, client, thread, model, turn, system, messages, userTokens, context, toolsMode, stream, cancellationToken).ConfigureAwait(false);
        }

        using var body = BuildRequest(input.Body, model, turn, system, messages, stream);
        if (WireRequestScanner.Scan(body.WrittenSpan, out var info) is { } scanError)
        {
            return TurnOutcome.Failed(Invalid(scanError));
        }

        string userId = ThreadIds.NewMessageId(time);
        string replyId = ThreadIds.NewMessageId(time);
        var headers = TurnHeaders(thread.Id, userId, replyId, context);
        var capture = new ReplyCaptureSink(client, holdBack: !stream, headers);
        var inbound = new InboundChat
        {
            Surface = DialectRegistry.Get("anthropic"),
            Body = body.WrittenMemory,
            Info = info,
            Caller = caller,
            RequestId = input.RequestId,
            Headers = input.Headers,
        };
        var turnIds = new TurnIds(thread.Id, userId, replyId, model, turn.ContentJson, userTokens, input);

        ForwardOutcome outcome;
        try
        {
            outcome = await forwarder.ForwardAsync(inbound, capture, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The client went away (or the host stops) mid-stream: keep what was generated, marked incomplete.
            if (stream && capture.Started && capture.StatusCode < 400)
            {
                var partial = CapturedReply.FromStream(capture.Captured.Span);
                await PersistAsync(turnIds, partial with { Complete = false }, FindRoute(model, capture.Route), null, null, CancellationToken.None).ConfigureAwait(false);
            }

            throw;
        }

        if (!outcome.ResponseWritten)
        {
            return TurnOutcome.Failed(outcome.Error ?? new QlaudError(QlaudErrorKind.UpstreamError, "The model gave no answer."));
        }

        if (capture.StatusCode >= 400)
        {
            return stream
                ? new TurnOutcome(null, null, null, null, Streamed: true)
                : new TurnOutcome(null, null, null, (capture.StatusCode, capture.ContentType ?? "application/json", capture.Captured.ToArray()), false);
        }

        var route = outcome.Route ?? FindRoute(model, capture.Route);
        if (stream)
        {
            var streamed = CapturedReply.FromStream(capture.Captured.Span);
            if (outcome.Error is not null)
            {
                streamed = streamed with { Complete = false };
            }

            // The stored answer of an idempotent turn is the whole message the events made up.
            byte[]? whole = input.IdempotencyKey is null ? null
                : Augment(streamed.ToMessageJson(model), thread.Id, userId, replyId, context);
            await PersistAsync(turnIds, streamed, route, outcome.Usage, whole, CancellationToken.None).ConfigureAwait(false);
            return new TurnOutcome(null, null, null, null, Streamed: true);
        }

        if (CapturedReply.FromMessage(capture.Captured.Span) is not { } reply)
        {
            return new TurnOutcome(null, null, null, (capture.StatusCode, capture.ContentType ?? "application/json", capture.Captured.ToArray()), false);
        }

        byte[] answer = Augment(capture.Captured.Span, thread.Id, userId, replyId, context);
        await PersistAsync(turnIds, reply, route, outcome.Usage, answer, CancellationToken.None).ConfigureAwait(false);
        using var document = JsonDocument.Parse(answer);
        return new TurnOutcome(null, new ThreadTurnResult(document.RootElement.Clone(), thread.Id, userId, replyId, context, Replayed: false), answer, null, false);
    }

    private async Task PersistAsync(TurnIds ids, CapturedReply reply, CatalogRoute? route, TokenUsage? reported, byte[]? answer, CancellationToken cancellationToken,
        long? costMicros = null)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var usage = reported ?? reply.Usage ?? default;
        var user = new ThreadMessageEntity
        {
            Id = ids.UserId, ThreadId = ids.ThreadId, Role = "user", ContentJson = ids.UserContentJson, ContextTokens = ids.UserTokens, Model = ids.Model,
            RequestId = ids.Input.RequestId, Status = ThreadMessageStatus.Complete, CreatedAtMs = now,
        };
        var assistant = new ThreadMessageEntity
        {
            Id = ids.ReplyId, ThreadId = ids.ThreadId, Role = "assistant", ContentJson = reply.ContentJson, ContextTokens = ReplyTokens(reply.ContentJson),
            Model = ids.Model, Route = route?.Name,
            InputTokens = usage.Input, OutputTokens = usage.Output,
            CostMicros = costMicros ?? (route is null ? 0 : MarkupPricing.Charge(route.Price.Cost(usage), _markupPercent)),
            RequestId = ids.Input.RequestId, StopReason = reply.StopReason,
            Status = reply.Complete ? ThreadMessageStatus.Complete : ThreadMessageStatus.Incomplete, CreatedAtMs = now,
        };
        var record = ids.Input.IdempotencyKey is { } key && answer is not null && reply.Complete
            ? new ThreadTurnRecordEntity
            {
                ThreadId = ids.ThreadId, IdempotencyKey = key, UserMessageId = ids.UserId, AssistantMessageId = ids.ReplyId,
                ResponseJson = System.Text.Encoding.UTF8.GetString(answer), CreatedAtMs = now,
            }
            : null;
        try
        {
            if (!await store.AppendTurnAsync(ids.ThreadId, user, assistant, record, now, cancellationToken).ConfigureAwait(false))
            {
                Log.ThreadGone(logger, ids.ThreadId);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.PersistFailed(logger, ex, ids.ThreadId);
            throw;
        }
    }

    /// <summary>A reply's token count, counted once as it is stored; 0 (counted when next read) for content the estimator rejects.</summary>
    private static long ReplyTokens(string contentJson)
    {
        if (contentJson == "[]")
        {
            return 0;
        }

        try
        {
            return ContextWindow.Estimate("assistant", contentJson);
        }
        catch (DialectException)
        {
            return 0;
        }
    }

    /// <summary>The smallest context length among the model's candidate routes (a fallback may land on any of them).</summary>
    private long ContextLength(string model)
    {
        var selection = forwarder.Router.Select(model, null, default);
        long length = int.MaxValue;
        foreach (var route in selection.Candidates)
        {
            length = Math.Min(length, route.ContextLength);
        }

        if (forwarder.Router.Catalog.TryGetModel(model, out var entry) && entry.ContextLength > 0)
        {
            length = Math.Min(length, entry.ContextLength);
        }

        return length;
    }

    private CatalogRoute? FindRoute(string model, string? routeName)
    {
        if (routeName is null)
        {
            return null;
        }

        foreach (var candidate in forwarder.Router.Select(model, null, default).Candidates)
        {
            if (candidate.Name == routeName)
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The headers a streamed turn's answer starts with.</summary>
    private static KeyValuePair<string, string>[] TurnHeaders(string threadId, string userId, string replyId, ThreadContextReport context) =>
    [
        new("x-qlaud-thread-id", threadId),
        new("x-qlaud-message-id", replyId),
        new("x-qlaud-user-message-id", userId),
        new("x-qlaud-context-messages-sent", context.MessagesSent.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("x-qlaud-context-messages-dropped", context.MessagesDropped.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("x-qlaud-context-messages-summarized", context.SummarizedMessages.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];

    /// <summary>The Anthropic Messages request of the turn.</summary>
    private static PooledBufferWriter BuildRequest(JsonElement posted, string model, TurnFields turn, JsonElement system, List<ContextMessage> messages, bool stream)
    {
        var body = new PooledBufferWriter(4096);
        using var writer = new Utf8JsonWriter(body);
        writer.WriteStartObject();
        writer.WriteString("model", model);
        writer.WriteNumber("max_tokens", turn.MaxTokens);
        if (system.ValueKind != JsonValueKind.Undefined)
        {
            writer.WritePropertyName("system");
            system.WriteTo(writer);
        }

        writer.WriteStartArray("messages");
        foreach (var message in messages)
        {
            writer.WriteStartObject();
            writer.WriteString("role", message.Role);
            writer.WritePropertyName("content");
            writer.WriteRawValue(message.ContentJson, skipInputValidation: true);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        foreach (var name in PassedThrough)
        {
            if (posted.TryGetProperty(name, out var value))
            {
                writer.WritePropertyName(name);
                value.WriteTo(writer);
            }
        }

        if (stream)
        {
            writer.WriteBoolean("stream", true);
        }

        writer.WriteEndObject();
        writer.Flush();
        return body;
    }

    /// <summary>The upstream's Anthropic message with the thread fields added.</summary>
    private static byte[] Augment(ReadOnlySpan<byte> message, string threadId, string userId, string replyId, ThreadContextReport context)
    {
        using var document = JsonDocument.Parse(message.ToArray());
        var buffer = new ArrayBufferWriter<byte>(message.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                property.WriteTo(writer);
            }

            writer.WriteString("thread_id", threadId);
            writer.WriteString("user_message_id", userId);
            writer.WriteString("assistant_message_id", replyId);
            writer.WriteStartObject("context");
            writer.WriteString("strategy", context.Strategy);
            writer.WriteNumber("messages_sent", context.MessagesSent);
            writer.WriteNumber("messages_dropped", context.MessagesDropped);
            writer.WriteNumber("summarized_messages", context.SummarizedMessages);
            writer.WriteBoolean("summary_updated", context.SummaryUpdated);
            writer.WriteNumber("estimated_input_tokens", context.EstimatedInputTokens);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static QlaudError Invalid(string message) => new(QlaudErrorKind.InvalidRequest, message);

    private sealed record TurnIds(string ThreadId, string UserId, string ReplyId, string Model, string UserContentJson, long UserTokens, TurnInput Input);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Thread {ThreadId} was deleted during a turn; the turn was not persisted")]
        public static partial void ThreadGone(ILogger logger, string threadId);

        [LoggerMessage(2, LogLevel.Error, "Persisting a turn of thread {ThreadId} failed")]
        public static partial void PersistFailed(ILogger logger, Exception exception, string threadId);

        [LoggerMessage(3, LogLevel.Information, "Thread {ThreadId}: {Messages} older messages folded into its summary (request {RequestId})")]
        public static partial void Summarized(ILogger logger, string threadId, int messages, string requestId);
    }
}
