using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Connectors.Mcp;
using Qlaud.Dialects;
using Qlaud.Metering;
using Qlaud.Routing;
using Qlaud.Threads;

namespace Qlaud.Connectors.Tools;

/// <summary>
/// The server-side tool loop of a thread turn: Microsoft.Extensions.AI's <see cref="FunctionInvokingChatClient"/> over Qlaud's
/// routed, metered in-process client, with the <c>qlaud_*</c> meta-tools (<c>dynamic</c>) or the end user's connector tools
/// (<c>static</c>) executed server-side and the client's own <c>tools</c> returned to the caller as <c>tool_use</c>.
/// </summary>
/// <remarks>Every model round trip is reserved and settled like any metered call (one ledger entry each). At most
/// <c>Qlaud:Connectors:MaxToolRounds</c> round trips; a tool that fails or times out is an error result for the model, not a
/// failed turn.</remarks>
internal sealed class ThreadToolLoop : IThreadToolLoop
{
    private readonly QlaudTools _tools;
    private readonly ConnectorsOptions _options;
    private readonly Router _router;
    private readonly IChatClient _metered;
    private readonly decimal _markupPercent;
    private readonly ILoggerFactory _loggers;

    internal ToolRuntime Runtime(QlaudCaller caller) => new(_tools, caller);

    public ThreadToolLoop(QlaudTools tools, IOptions<QlaudOptions> qlaud, QlaudChatClient chat, ISpendGuard guard, QlaudCallerResolver callers, Router router,
        ILoggerFactory loggers)
    {
        _tools = tools;
        _options = tools.Options;
        _router = router;
        _loggers = loggers;
        _markupPercent = qlaud.Value.Pricing.MarkupPercent;
        _metered = qlaud.Value.Metering.Enabled ? new MeteringChatClient(chat, guard, callers, router) : chat;
    }

    public string? ModeFor(TurnFields turn, string model)
    {
        ArgumentNullException.ThrowIfNull(turn);
        string mode = turn.ToolsMode ?? (turn.Tools.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? _options.DefaultToolsMode : "none");
        if (mode is not ("dynamic" or "static"))
        {
            return null;
        }

        // A default mode does not turn a model that cannot call tools (the offline echo model, a host without tool calling)
        // into a failing turn; a mode the turn asked for is kept, and routing answers that the model has no tools.
        return turn.ToolsMode is null && !CanCallTools(model) ? null : mode;
    }

    private bool CanCallTools(string model)
    {
        var candidates = _router.Select(model, null, default).Candidates;
        if (candidates is null || candidates.Count == 0)
        {
            return true; // unknown here: routing answers for it
        }

        foreach (var route in candidates)
        {
            if (!route.CapabilitiesDeclared || (route.Capabilities & Qlaud.Catalog.ModelCapabilities.Tools) != 0)
            {
                return true;
            }
        }

        return false;
    }

    public async Task<ToolLoopReply> RunAsync(ToolLoopTurn turn, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(turn);
        CanonicalChatRequest request;
        try
        {
            request = DialectRegistry.Get("anthropic").ReadRequest(McpBlocks.ExpandHistory(turn.AnthropicRequest.Span));
        }
        catch (DialectException ex)
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, ex.Message));
        }

        var runtime = new ToolRuntime(_tools, turn.Caller);
        var serverTools = turn.Mode == "static" ? await runtime.DirectToolsAsync(cancellationToken).ConfigureAwait(false) : runtime.MetaTools();
        return await RunWithToolsAsync(turn.Caller, request, serverTools, runtime, turn.Stream, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs the loop over a decoded request with the given server tools (the meta-tools, connector tools, or the tools of
    /// a request's own <c>mcp_servers</c>); with a <paramref name="stream"/>, the answer's events are written to it as the loop runs.</summary>
    internal async Task<ToolLoopReply> RunWithToolsAsync(QlaudCaller caller, CanonicalChatRequest request, IList<AITool> serverTools, ToolRuntime runtime,
        ToolLoopStream? stream, CancellationToken cancellationToken)
    {
        var options = request.Options;
        var tools = new List<AITool>(options.Tools ?? []);
        var serverNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tool in serverTools)
        {
            // A client tool of the same name wins: the caller asked for it by name.
            if (!tools.Any(t => t.Name == tool.Name))
            {
                tools.Add(tool);
                serverNames.Add(tool.Name);
            }
        }

        options.Tools = tools.Count > 0 ? tools : null;
        (options.AdditionalProperties ??= [])[QlaudCallerResolver.CallerProperty] = caller;
        string model = options.ModelId ?? "";
        var recorder = new RoundTripRecorder(_metered, _router, model, _markupPercent);
        using var loop = new FunctionInvokingChatClient(recorder, _loggers)
        {
            MaximumIterationsPerRequest = _options.MaxToolRounds,
            IncludeDetailedErrors = true,
            AllowConcurrentInvocation = true,
        };

        if (stream is not null)
        {
            var streamed = await StreamAsync(loop, request.Messages, options, serverNames, runtime, recorder, stream, cancellationToken).ConfigureAwait(false);
            return new ToolLoopReply(streamed, recorder.Route, recorder.Usage, recorder.CostMicros, recorder.RoundTrips);
        }

        var response = await loop.GetResponseAsync(request.Messages, options, cancellationToken).ConfigureAwait(false);

        var reply = McpBlocks.ToReply(response, runtime, serverNames, recorder.Usage, recorder.RoundTrips, _options.MaxToolRounds);
        return new ToolLoopReply(reply, recorder.Route, recorder.Usage, recorder.CostMicros, recorder.RoundTrips);
    }

    /// <summary>Runs the loop streaming: the model's text deltas are relayed as they come, each server tool call is written as
    /// an <c>mcp_tool_use</c> block when the model asked for it and its <c>mcp_tool_result</c> when it finished. The reply is what
    /// was streamed, less server tool calls that were never run (round trips ran out), see <see cref="ToolLoopStream.Reply"/>.</summary>
    private async Task<CapturedReply> StreamAsync(FunctionInvokingChatClient loop, IEnumerable<ChatMessage> messages, ChatOptions options, HashSet<string> serverNames,
        ToolRuntime runtime, RoundTripRecorder recorder, ToolLoopStream stream, CancellationToken cancellationToken)
    {
        var unanswered = new HashSet<string>(StringComparer.Ordinal);
        bool clientToolUse = false;
        ChatFinishReason? finish = null;
        await foreach (var update in loop.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            stream.MessageId ??= update.ResponseId;
            finish = update.FinishReason ?? finish;
            foreach (var item in update.Contents)
            {
                switch (item)
                {
                    case TextContent text when update.Role != ChatRole.Tool:
                        await stream.TextAsync(text.Text, cancellationToken).ConfigureAwait(false);
                        break;
                    case FunctionCallContent call when serverNames.Contains(call.Name):
                        unanswered.Add(call.CallId);
                        await stream.BlockAsync(McpBlocks.Block(call, McpBlocks.WriteMcpToolUse), cancellationToken).ConfigureAwait(false);
                        break;
                    case FunctionCallContent call:
                        clientToolUse = true;
                        await stream.BlockAsync(McpBlocks.Block(call, McpBlocks.WriteToolUse), cancellationToken).ConfigureAwait(false);
                        break;
                    case FunctionResultContent result:
                        unanswered.Remove(result.CallId);
                        await stream.BlockAsync(McpBlocks.Block(result, (w, r) => McpBlocks.WriteMcpToolResult(w, r, runtime)), cancellationToken).ConfigureAwait(false);
                        break;
                }
            }
        }

        string stop = McpBlocks.StopReason(clientToolUse, unanswered.Count > 0, recorder.RoundTrips, _options.MaxToolRounds, finish);
        await stream.EndAsync(stop, recorder.Usage, cancellationToken).ConfigureAwait(false);
        return stream.Reply() with { Usage = recorder.Usage };
    }
}
