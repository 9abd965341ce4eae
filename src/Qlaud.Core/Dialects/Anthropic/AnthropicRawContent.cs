using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.Anthropic;

/// <summary>
/// An Anthropic content block that has no fitting MEAI content type (<c>server_tool_use</c>, <c>web_search_tool_result</c>,
/// <c>search_result</c>, <c>mcp_tool_use</c>, a document with custom content, …), kept as the wire JSON so that it is
/// written back unchanged to an Anthropic upstream or client.
/// </summary>
/// <remarks>Other dialects cannot express these blocks and skip them.</remarks>
internal sealed class AnthropicRawContent : AIContent
{
    /// <summary>Wraps the wire block <paramref name="block"/> (a JSON object with a <c>type</c>).</summary>
    public AnthropicRawContent(JsonElement block)
    {
        Block = block;
        RawRepresentation = block;
    }

    /// <summary>The block as it was on the wire.</summary>
    public JsonElement Block { get; }

    /// <summary>The block's <c>type</c>, or an empty string.</summary>
    public string BlockType =>
        Block.ValueKind == JsonValueKind.Object && Block.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()!
            : "";
}
