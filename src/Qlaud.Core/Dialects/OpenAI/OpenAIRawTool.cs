using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.OpenAI;

/// <summary>A wire tool that is not a function tool (<c>custom</c>, provider tools such as web search), kept verbatim.</summary>
internal sealed class OpenAIRawTool(string type, JsonElement raw) : AITool
{
    /// <inheritdoc />
    public override string Name { get; } = type;

    /// <summary>The wire tool object.</summary>
    public JsonElement Raw { get; } = raw;
}
