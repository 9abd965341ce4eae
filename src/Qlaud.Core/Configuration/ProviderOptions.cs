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

    /// <summary>An alias of <see cref="FirstByteTimeoutSeconds"/>, kept for existing configurations.</summary>
    public double? TimeoutSeconds { get; set; }

    /// <summary>Time allowed from sending a request to the first byte of the answer, in seconds; <c>Qlaud:Routing:FirstByteTimeoutSeconds</c> when unset.</summary>
    public double? FirstByteTimeoutSeconds { get; set; }

    /// <summary>Time allowed to open a TCP connection, in seconds; <c>Qlaud:Routing:ConnectTimeoutSeconds</c> when unset.</summary>
    /// <remarks>Providers at the same host and port share pooled connections, and so the longest connect timeout among them.</remarks>
    public double? ConnectTimeoutSeconds { get; set; }

    /// <summary>The longest silence allowed between two reads of an answer body, in seconds; <c>Qlaud:Routing:IdleTimeoutSeconds</c> when unset.</summary>
    public double? IdleTimeoutSeconds { get; set; }

    /// <summary>Retries on a route of this provider before moving on; <c>Qlaud:Routing:MaxRetries</c> when unset.</summary>
    public int? MaxRetries { get; set; }
}
