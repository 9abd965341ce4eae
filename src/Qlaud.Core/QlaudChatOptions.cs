namespace Qlaud;

/// <summary>
/// Keys of <c>ChatOptions.AdditionalProperties</c> that steer routing for in-process calls, the same choices as the wire
/// fields <c>models</c> and <c>provider</c>.
/// </summary>
/// <example>
/// <code>
/// var options = new ChatOptions
/// {
///     ModelId = "gpt-4o-mini",
///     AdditionalProperties = new()
///     {
///         [QlaudChatOptions.Models] = new[] { "claude-haiku-4-5", "qlaud/echo" },
///         [QlaudChatOptions.Provider] = new ProviderPreferences { Sort = ProviderSort.Price, Ignore = ["groq"] },
///     },
/// };
/// </code>
/// </example>
/// <remarks>These keys are consumed by Qlaud and never sent to a provider.</remarks>
public static class QlaudChatOptions
{
    /// <summary>Fallback models tried in order after <c>ChatOptions.ModelId</c>: a sequence of model slugs
    /// (<c>string[]</c>, <c>IEnumerable&lt;string&gt;</c>) or a JSON array of strings (<c>JsonElement</c>).</summary>
    public const string Models = "qlaud.models";

    /// <summary>Provider preferences: a <see cref="Routing.ProviderPreferences"/> or an OpenRouter-style JSON object (<c>JsonElement</c>).</summary>
    public const string Provider = "qlaud.provider";
}
