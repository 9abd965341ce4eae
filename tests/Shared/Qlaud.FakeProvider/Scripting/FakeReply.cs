using System.Globalization;

namespace Qlaud.FakeProvider;

/// <summary>
/// One scripted answer of the fake provider, independent of the wire format: the same reply is written as an
/// OpenAI chat completion or an Anthropic message depending on the endpoint that receives the request.
/// </summary>
/// <remarks>
/// <para>Create replies with the static factories and adjust them with <c>with</c> expressions, e.g.
/// <c>FakeReply.Text("hi") with { Latency = TimeSpan.FromMilliseconds(50), ChunkSize = 2 }</c>.</para>
/// <para>Whether the answer is streamed is decided by the request (<c>"stream": true</c>), not by the reply.
/// Settings left <see langword="null"/> fall back to <see cref="FakeProviderOptions"/>.</para>
/// </remarks>
public sealed record FakeReply
{
    private FakeReply(FakeReplyKind kind) => Kind = kind;

    /// <summary>What the fake does with the request.</summary>
    public FakeReplyKind Kind { get; }

    /// <summary>The answer text; <see langword="null"/> means no text block (e.g. tool calls only).</summary>
    public string? Content { get; init; }

    /// <summary>Reasoning written before the answer: OpenAI <c>reasoning_content</c> (DeepSeek style), Anthropic a <c>thinking</c> block.</summary>
    public string? Reasoning { get; init; }

    /// <summary>The Anthropic thinking block <c>signature</c>; a fixed fake signature when <see langword="null"/>.</summary>
    public string? ReasoningSignature { get; init; }

    /// <summary>Tool calls after the text, all in one turn (parallel calls when more than one).</summary>
    public IReadOnlyList<FakeToolCall> ToolCalls { get; init; } = [];

    /// <summary>Why the completion stopped; <see cref="FakeFinishReason.ToolCalls"/> when there are tool calls, otherwise <see cref="FakeFinishReason.Stop"/>.</summary>
    public FakeFinishReason? FinishReason { get; init; }

    /// <summary>The stop sequence reported with <see cref="FakeFinishReason.StopSequence"/> (Anthropic <c>stop_sequence</c>).</summary>
    public string? StopSequence { get; init; }

    /// <summary>Reported usage; numbers left <see langword="null"/> are computed from the request and the reply.</summary>
    public FakeUsage? Usage { get; init; }

    /// <summary>Delay before the response headers are sent; <see cref="FakeProviderOptions.Latency"/> when <see langword="null"/>.</summary>
    public TimeSpan? Latency { get; init; }

    /// <summary>Characters of text, reasoning or tool arguments per streamed chunk; <see cref="FakeProviderOptions.ChunkSize"/> when <see langword="null"/>.</summary>
    public int? ChunkSize { get; init; }

    /// <summary>Delay between streamed content chunks; <see cref="FakeProviderOptions.ChunkDelay"/> when <see langword="null"/>.</summary>
    public TimeSpan? ChunkDelay { get; init; }

    /// <summary>
    /// When set, the stream is cut off after this many content deltas (text, reasoning or tool-argument fragments):
    /// the connection is aborted, or, with <see cref="CutOffWithErrorEvent"/>, a dialect error event ends the stream.
    /// A non-streaming request gets its response headers and then an aborted connection.
    /// </summary>
    public int? CutOffAfterChunks { get; init; }

    /// <summary>
    /// With <see cref="CutOffAfterChunks"/>: end the stream with an error event (Anthropic <c>event: error</c> with an
    /// <c>overloaded_error</c>, OpenAI a <c>data: {"error":…}</c> line) instead of aborting the connection.
    /// </summary>
    public bool CutOffWithErrorEvent { get; init; }

    /// <summary>The HTTP status of an <see cref="FakeReplyKind.Error"/> reply.</summary>
    public int StatusCode { get; init; } = 200;

    /// <summary>The raw JSON body of an error reply; a dialect-shaped error for the status when <see langword="null"/>.</summary>
    public string? ErrorBody { get; init; }

    /// <summary>Extra response headers (e.g. <c>retry-after</c>).</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>A text answer.</summary>
    /// <param name="text">The assistant text.</param>
    public static FakeReply Text(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new FakeReply(FakeReplyKind.Completion) { Content = text };
    }

    /// <summary>A text answer preceded by reasoning (OpenAI <c>reasoning_content</c>, Anthropic <c>thinking</c>).</summary>
    /// <param name="reasoning">The reasoning text.</param>
    /// <param name="text">The answer text after the reasoning.</param>
    /// <param name="signature">The Anthropic thinking signature; a fixed fake one when <see langword="null"/>.</param>
    public static FakeReply TextWithReasoning(string reasoning, string text, string? signature = null)
    {
        ArgumentNullException.ThrowIfNull(reasoning);
        ArgumentNullException.ThrowIfNull(text);
        return new FakeReply(FakeReplyKind.Completion) { Reasoning = reasoning, Content = text, ReasoningSignature = signature };
    }

    /// <summary>One or more tool calls (several are parallel calls in one turn), with no text.</summary>
    /// <param name="calls">The calls, in order.</param>
    public static FakeReply ToolCall(params FakeToolCall[] calls)
    {
        ArgumentNullException.ThrowIfNull(calls);
        if (calls.Length == 0)
        {
            throw new ArgumentException("At least one tool call is required.", nameof(calls));
        }

        return new FakeReply(FakeReplyKind.Completion) { ToolCalls = [.. calls] };
    }

    /// <summary>A single tool call, with no text.</summary>
    /// <param name="name">The function name.</param>
    /// <param name="argumentsJson">The arguments as JSON object text.</param>
    /// <param name="id">The call id, or <see langword="null"/> to generate one.</param>
    public static FakeReply ToolCall(string name, string argumentsJson, string? id = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(argumentsJson);
        return ToolCall(new FakeToolCall(name, argumentsJson, id));
    }

    /// <summary>An HTTP error.</summary>
    /// <param name="statusCode">The status, e.g. 400, 429, 500, 529.</param>
    /// <param name="bodyJson">The raw body; a dialect-shaped error envelope for the status when <see langword="null"/>.</param>
    /// <param name="headers">Extra response headers, e.g. <c>retry-after</c>.</param>
    public static FakeReply Error(int statusCode, string? bodyJson = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        return new FakeReply(FakeReplyKind.Error) { StatusCode = statusCode, ErrorBody = bodyJson, Headers = headers };
    }

    /// <summary>A 429 with a <c>retry-after</c> header in whole seconds.</summary>
    /// <param name="retryAfter">The advertised wait.</param>
    public static FakeReply RateLimited(TimeSpan retryAfter)
    {
        var seconds = (long)Math.Ceiling(retryAfter.TotalSeconds);
        return Error(429, headers: new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["retry-after"] = seconds.ToString(CultureInfo.InvariantCulture),
        });
    }

    /// <summary>Accept the request and never answer, until the client cancels or the server stops.</summary>
    /// <remarks>The recorded request is marked <see cref="RecordedRequest.Cancelled"/> when the client gives up.</remarks>
    public static FakeReply Hang() => new(FakeReplyKind.Hang);

    /// <summary>A text answer whose stream is cut off after <paramref name="afterChunks"/> content deltas.</summary>
    /// <param name="text">The full text the stream would have carried.</param>
    /// <param name="afterChunks">Content deltas delivered before the cut (0 cuts right after the preamble).</param>
    /// <param name="withErrorEvent">End with a dialect error event instead of aborting the connection.</param>
    public static FakeReply CutOff(string text, int afterChunks, bool withErrorEvent = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterChunks);
        return Text(text) with { CutOffAfterChunks = afterChunks, CutOffWithErrorEvent = withErrorEvent };
    }
}
