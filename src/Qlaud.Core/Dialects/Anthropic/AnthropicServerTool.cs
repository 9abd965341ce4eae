using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.Anthropic;

/// <summary>
/// An Anthropic server or versioned client tool (<c>web_search_20250305</c>, <c>bash_20250124</c>,
/// <c>text_editor_*</c>, <c>computer_*</c>, <c>code_execution_*</c>, …), kept as its wire definition and written back
/// verbatim to Anthropic upstreams. Other dialects cannot express it and skip it.
/// </summary>
internal sealed class AnthropicServerTool : AITool
{
    /// <summary>Wraps the wire definition <paramref name="definition"/> (a JSON object with <c>type</c> and <c>name</c>).</summary>
    public AnthropicServerTool(JsonElement definition)
    {
        Definition = definition;
        Name = definition.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString()! : "";
        ToolType = definition.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString()! : "";
    }

    /// <summary>The definition as it was on the wire.</summary>
    public JsonElement Definition { get; }

    /// <summary>The tool's versioned <c>type</c>, for example <c>web_search_20250305</c>.</summary>
    public string ToolType { get; }

    /// <inheritdoc />
    public override string Name { get; }
}
