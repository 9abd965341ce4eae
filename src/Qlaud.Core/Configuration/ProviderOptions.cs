namespace Qlaud.Configuration;

/// <summary>One entry of <c>Qlaud:Providers</c>: an upstream API as configuration, not code.</summary>
public sealed class ProviderOptions
{
    /// <summary>The wire dialect the provider speaks: <c>openai</c> or <c>anthropic</c>. Optional for built-in providers.</summary>
    public string? Dialect { get; set; }

    /// <summary>The base URL; for <c>openai</c> the URL <c>/chat/completions</c> is appended to (ends in <c>/v1</c> for most hosts),
    /// for <c>anthropic</c> the URL <c>/v1/messages</c> is appended to.</summary>
    public string? BaseUrl { get; set; }

    /// <summary>The provider's API key. Never logged. Without one a built-in provider's routes are not used.</summary>
    public string? ApiKey { get; set; }

    /// <summary>An environment variable to read the API key from when <see cref="ApiKey"/> is not set
    /// (the built-in providers name the conventional one, for example <c>OPENAI_API_KEY</c>).</summary>
    public string? ApiKeyEnvironmentVariable { get; set; }

    /// <summary>Extra headers sent on every upstream request (for example <c>HTTP-Referer</c> for OpenRouter).</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Set to false to disable a provider (its routes are skipped). Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Time allowed for the upstream to send response headers, in seconds (default 120).</summary>
    public double? TimeoutSeconds { get; set; }
}
