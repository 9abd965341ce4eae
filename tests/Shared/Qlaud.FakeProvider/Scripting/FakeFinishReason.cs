namespace Qlaud.FakeProvider;

/// <summary>Why a scripted completion stopped; written in each dialect's own vocabulary.</summary>
/// <remarks>
/// OpenAI: <c>stop</c>, <c>length</c>, <c>tool_calls</c>, <c>content_filter</c> (a stop sequence is <c>stop</c>).
/// Anthropic: <c>end_turn</c>, <c>max_tokens</c>, <c>tool_use</c>, <c>refusal</c>, <c>stop_sequence</c>.
/// </remarks>
public enum FakeFinishReason
{
    /// <summary>Natural end of the turn (<c>stop</c> / <c>end_turn</c>).</summary>
    Stop,

    /// <summary>The output token limit was hit (<c>length</c> / <c>max_tokens</c>).</summary>
    Length,

    /// <summary>The model asks for tool calls (<c>tool_calls</c> / <c>tool_use</c>).</summary>
    ToolCalls,

    /// <summary>Output was filtered (<c>content_filter</c> / <c>refusal</c>).</summary>
    ContentFilter,

    /// <summary>A stop sequence matched (<c>stop</c> / <c>stop_sequence</c> with <see cref="FakeReply.StopSequence"/>).</summary>
    StopSequence,
}
