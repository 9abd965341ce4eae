using System.Text.Json;
using Qlaud.Dialects;
using Qlaud.Diagnostics;
using Qlaud.Forwarding;
using Qlaud.Storage;

namespace Qlaud.Threads;

internal sealed partial class ThreadTurnEngine
{
    /// <summary>The problem with a context strategy name, or null when it can be used.</summary>
    public static string? StrategyProblem(string? strategy, string? summaryModel) => strategy switch
    {
        null or ContextWindow.Truncate => null,
        ContextWindow.Summarize when summaryModel is null => "The \"summarize\" context strategy needs a summary model: set Qlaud:Threads:SummaryModel.",
        ContextWindow.Summarize => null,
        _ => $"'{strategy}' is not a context strategy: \"truncate\" or \"summarize\".",
    };

    /// <summary>Fits <paramref name="messages"/> (history, then the new user message) to the model's context window by the
    /// turn's strategy: removes what is not sent and answers the system prompt to send (with the summary, under
    /// <c>summarize</c>) and the report. Under <c>summarize</c> a fold calls the summary model, charged to
    /// <paramref name="caller"/>, and stores the new summary.</summary>
    /// <exception cref="DialectException">A message's content is not valid Anthropic content.</exception>
    private async ValueTask<ContextPlan> FitAsync(ThreadEntity thread, TurnFields turn, string model, string strategy, JsonElement system,
        List<ContextMessage> messages, TurnInput input, QlaudCaller caller, CancellationToken cancellationToken)
    {
        long contextLength = ContextLength(model);
        long reportedLength = contextLength == int.MaxValue ? 0 : contextLength;
        if (strategy == ContextWindow.Truncate)
        {
            var (first, inputTokens) = ContextWindow.Fit(messages, ContextWindow.EstimateFixed(system, turn.Tools), turn.MaxTokens, contextLength);
            if (first < 0)
            {
                return ContextPlan.Failed(TooLarge(model, inputTokens, turn.MaxTokens, contextLength));
            }

            messages.RemoveRange(0, first);
            return new ContextPlan(null, system, new ThreadContextReport(ContextWindow.Truncate, messages.Count, first, inputTokens, reportedLength));
        }

        // Summarize: the stored summary (when there is one) stands for the messages it folded, which were not loaded.
        string? summary = thread.SummaryThroughSeq is null ? null : thread.Summary;
        int summarized = summary is null ? 0 : thread.SummarizedMessages;
        var withSummary = summary is null ? system : ThreadSummaryPrompt.WithSummary(system, summary);
        long fixedTokens = ContextWindow.EstimateFixed(withSummary, turn.Tools);
        long history = ContextWindow.Sum(messages, 0);
        if (fixedTokens + history + turn.MaxTokens <= contextLength)
        {
            return new ContextPlan(null, withSummary, new ThreadContextReport(ContextWindow.Summarize, messages.Count, 0, fixedTokens + history, reportedLength)
            {
                SummarizedMessages = summarized,
            });
        }

        // Fold: the oldest whole turns go into a new summary, so that what stays fills at most half of the window left once
        // the summary's room is kept; the next folds are then some turns away.
        long plainFixed = ContextWindow.EstimateFixed(system, turn.Tools) + _summaryMaxTokens + ThreadSummaryPrompt.FramingTokens;
        long budget = contextLength - turn.MaxTokens - plainFixed;
        int fold = ContextWindow.FirstWithin(messages, budget / 2);
        if (fold < 0)
        {
            fold = ContextWindow.FirstWithin(messages, budget);
        }

        if (fold == 0)
        {
            fold = ContextWindow.NextTurn(messages, 0);
        }

        if (fold < 0 || fold >= messages.Count)
        {
            return ContextPlan.Failed(TooLarge(model, plainFixed + messages[^1].Tokens, turn.MaxTokens, contextLength));
        }

        // The summary call's own window bounds the transcript: its oldest messages beyond it are dropped, not summarized.
        var folded = messages.GetRange(0, fold);
        long transcriptRoom = ContextLength(_summaryModel!) - _summaryMaxTokens - 512
            - (summary is null ? 0 : Qlaud.Tokenization.TokenCounter.Count(summary, Qlaud.Tokenization.TokenEncoding.Cl100k));
        int dropped = 0;
        while (folded.Count > 0 && ContextWindow.Sum(folded, 0) > transcriptRoom)
        {
            folded.RemoveAt(0);
            dropped++;
        }

        var (text, requestId, error) = await SummarizeAsync(summary, folded, input, caller, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            return ContextPlan.Failed(error);
        }

        // The summary was paid for: it is kept even when the turn itself then fails, and reused by the next turn.
        summarized += folded.Count;
        await store.SaveSummaryAsync(thread.Id, new ThreadSummaryUpdate(text!, messages[fold - 1].Seq, summarized, requestId,
            time.GetUtcNow().ToUnixTimeMilliseconds()), CancellationToken.None).ConfigureAwait(false);
        messages.RemoveRange(0, fold);
        withSummary = ThreadSummaryPrompt.WithSummary(system, text!);
        fixedTokens = ContextWindow.EstimateFixed(withSummary, turn.Tools);

        // A summary longer than its room leaves less for the history: then whole turns are dropped as under truncate.
        int more = ContextWindow.FirstWithin(messages, contextLength - turn.MaxTokens - fixedTokens);
        if (more < 0)
        {
            return ContextPlan.Failed(TooLarge(model, fixedTokens + messages[^1].Tokens, turn.MaxTokens, contextLength));
        }

        messages.RemoveRange(0, more);
        return new ContextPlan(null, withSummary,
            new ThreadContextReport(ContextWindow.Summarize, messages.Count, dropped + more, fixedTokens + ContextWindow.Sum(messages, 0), reportedLength)
            {
                SummarizedMessages = summarized,
                SummaryUpdated = true,
            });
    }

    /// <summary>Calls the summary model through the forwarder, routed and metered like any call, charged to <paramref name="caller"/>.</summary>
    private async ValueTask<(string? Text, string RequestId, QlaudError? Error)> SummarizeAsync(string? previous, List<ContextMessage> folded, TurnInput input,
        QlaudCaller caller, CancellationToken cancellationToken)
    {
        string model = _summaryModel!;
        string requestId = RequestIds.New();
        byte[] body = ThreadSummaryPrompt.Request(model, _summaryMaxTokens, ThreadSummaryPrompt.Transcript(previous, folded));
        if (WireRequestScanner.Scan(body, out var info) is { } scanError)
        {
            return (null, requestId, new QlaudError(QlaudErrorKind.Internal, $"The summary request was not valid: {scanError}"));
        }

        var capture = new ReplyCaptureSink(DiscardingSink.Instance, holdBack: true, []);
        var inbound = new InboundChat
        {
            Surface = DialectRegistry.Get("anthropic"),
            Body = body,
            Info = info,
            Caller = caller,
            RequestId = requestId,
            Headers = input.Headers,
        };
        var outcome = await forwarder.ForwardAsync(inbound, capture, cancellationToken).ConfigureAwait(false);
        string failed = $"Summarizing the thread's older turns with '{model}' failed";
        if (!outcome.ResponseWritten)
        {
            var error = outcome.Error ?? new QlaudError(QlaudErrorKind.UpstreamError, "the model gave no answer.");
            return (null, requestId, error with { Message = $"{failed}: {error.Message}" });
        }

        if (capture.StatusCode >= 400)
        {
            var kind = capture.StatusCode switch
            {
                429 => QlaudErrorKind.RateLimited,
                402 => QlaudErrorKind.PaymentRequired,
                _ => QlaudErrorKind.UpstreamError,
            };
            return (null, requestId, new QlaudError(kind, $"{failed}: the provider answered {capture.StatusCode}.", "summary_failed"));
        }

        string? text = CapturedReply.FromMessage(capture.Captured.Span) is { } reply ? ThreadSummaryPrompt.ReplyText(reply.ContentJson) : null;
        if (string.IsNullOrEmpty(text))
        {
            return (null, requestId, new QlaudError(QlaudErrorKind.UpstreamError, $"{failed}: the answer held no text.", "summary_failed"));
        }

        Log.Summarized(logger, input.ThreadId, folded.Count, requestId);
        return (text, requestId, null);
    }

    private static QlaudError TooLarge(string model, long inputTokens, int maxTokens, long contextLength) => new(QlaudErrorKind.InvalidRequest,
        $"The new turn ({inputTokens} estimated input tokens with the system prompt and tools) plus max_tokens ({maxTokens}) does not fit the context length of '{model}' ({contextLength} tokens).",
        "context_length_exceeded");

    /// <summary>What the context step chose: an error, or the system prompt to send and the report.</summary>
    private readonly record struct ContextPlan(QlaudError? Error, JsonElement System, ThreadContextReport? Report)
    {
        public static ContextPlan Failed(QlaudError error) => new(error, default, null);
    }
}
