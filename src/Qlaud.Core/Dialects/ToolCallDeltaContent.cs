using Microsoft.Extensions.AI;

namespace Qlaud.Dialects;

/// <summary>
/// One streamed fragment of a tool call, as the wire dialects send it: the first fragment of a call carries
/// <see cref="CallId"/> and <see cref="Name"/>, later ones only more <see cref="ArgumentsDelta"/>.
/// </summary>
/// <remarks>
/// Stream decoders emit these so that a translating relay can re-encode tool calls incrementally
/// (OpenAI <c>tool_calls[].function.arguments</c> deltas to Anthropic <c>input_json_delta</c> and back) without
/// buffering. <c>ToolCallAccumulator</c> folds them into whole <see cref="FunctionCallContent"/> for
/// in-process callers.
/// </remarks>
internal sealed class ToolCallDeltaContent : AIContent
{
    /// <summary>The call's position among the parallel calls of one assistant turn (0-based).</summary>
    public required int Index { get; init; }

    /// <summary>The call id; set on the first fragment of a call.</summary>
    public string? CallId { get; init; }

    /// <summary>The tool name; set on the first fragment of a call.</summary>
    public string? Name { get; init; }

    /// <summary>The next piece of the JSON arguments text (may be empty).</summary>
    public string ArgumentsDelta { get; init; } = "";
}
