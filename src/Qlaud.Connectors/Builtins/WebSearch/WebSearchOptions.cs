namespace Qlaud.Connectors.Builtins.WebSearch;

/// <summary>The settings of the <c>web_search</c> builtin, in <c>Qlaud:Builtins:web_search</c>: the Brave Search API by default,
/// Tavily as the second backend.</summary>
/// <remarks>
/// <para><see cref="BuiltinToolOptions.ApiKey"/> and <see cref="BuiltinToolOptions.BaseUrl"/> are Brave's (key from the
/// environment variable <c>BRAVE_API_KEY</c> when unset; base URL <c>https://api.search.brave.com</c>);
/// <see cref="TavilyApiKey"/> and <see cref="TavilyBaseUrl"/> are Tavily's (<c>TAVILY_API_KEY</c>; <c>https://api.tavily.com</c>).</para>
/// <para>The backend is <see cref="Backend"/> when set, else Brave when its key is configured, else Tavily when its key is. The
/// tool is available when the chosen backend has a key. Validated at start-up.</para>
/// </remarks>
public sealed class WebSearchOptions : BuiltinToolOptions
{
    /// <summary>Which search API answers: <c>brave</c> or <c>tavily</c>; unset picks Brave when its key is configured, else Tavily.</summary>
    public string? Backend { get; set; }

    /// <summary>Tavily's API key (<c>tvly-…</c>); when unset, the environment variable <c>TAVILY_API_KEY</c>.</summary>
    public string? TavilyApiKey { get; set; }

    /// <summary>Tavily's base URL; when unset, <c>https://api.tavily.com</c>.</summary>
    public string? TavilyBaseUrl { get; set; }
}
