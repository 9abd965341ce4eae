using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.OpenAI;

/// <summary>A content part or tool call of a type this codec does not map (<c>video_url</c>, a <c>custom</c> tool call), kept verbatim.</summary>
internal sealed class OpenAIRawContent : AIContent
{
    /// <summary>Keeps <paramref name="raw"/>; <paramref name="isToolCall"/> says whether it came from <c>tool_calls</c> or <c>content</c>.</summary>
    public OpenAIRawContent(JsonElement raw, bool isToolCall)
    {
        Raw = raw;
        IsToolCall = isToolCall;
        RawRepresentation = raw;
    }

    /// <summary>The wire object.</summary>
    public JsonElement Raw { get; }

    /// <summary>True for an entry of an assistant message's <c>tool_calls</c>, false for a content part.</summary>
    public bool IsToolCall { get; }
}
