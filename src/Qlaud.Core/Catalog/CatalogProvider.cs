namespace Qlaud.Catalog;

/// <summary>A provider after configuration: dialect, base URL, credentials, headers, timeouts and retries.</summary>
/// <param name="Name">The provider name, for example <c>openai</c>.</param>
/// <param name="Dialect">The wire dialect, <c>openai</c> or <c>anthropic</c>.</param>
/// <param name="BaseUrl">The base URL, without a trailing slash.</param>
/// <param name="Headers">Extra headers for every request.</param>
/// <param name="IsAvailable">Whether routes may use it: enabled and with an API key (or configured explicitly without one, as for a local server).</param>
/// <param name="Timeout">Time allowed from sending a request to the first byte of the answer (response headers and, for a stream, the first event).</param>
public sealed record CatalogProvider(string Name, string Dialect, Uri BaseUrl, IReadOnlyDictionary<string, string> Headers, bool IsAvailable, TimeSpan Timeout)
{
    /// <summary>The API key; never logged or shown. Excluded from <see cref="ToString"/>.</summary>
    internal string? ApiKey { get; init; }

    /// <summary>Time allowed to open a TCP connection.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest silence allowed between two reads of an answer body.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Retries on a route of this provider after a retryable failure, before moving to the next route.</summary>
    public int MaxRetries { get; init; } = 1;

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Dialect}, {BaseUrl})";
}
