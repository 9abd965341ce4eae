namespace Qlaud.Dialects;

/// <summary>The wire dialects Qlaud speaks, by configuration name.</summary>
internal static class DialectRegistry
{
    /// <summary>The dialect named <paramref name="name"/> (<c>openai</c>, <c>anthropic</c>).</summary>
    public static IChatDialect Get(string name) => name switch
    {
        "openai" => OpenAI.OpenAIDialect.Instance,
        "anthropic" => Anthropic.AnthropicDialect.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown dialect."),
    };
}
