namespace Qlaud.Catalog;

/// <summary>A provider after configuration: dialect, base URL, credentials and headers.</summary>
/// <param name="Name">The provider name, for example <c>openai</c>.</param>
/// <param name="Dialect">The wire dialect, <c>openai</c> or <c>anthropic</c>.</param>
/// <param name="BaseUrl">The base URL, without a trailing slash.</param>
/// <param name="Headers">Extra headers for every request.</param>
/// <param name="IsAvailable">Whether routes may use it: enabled and with an API key (or configured explicitly without one, as for a local server).</param>
/// <param name="Timeout">Time allowed for response headers.</param>
public sealed record CatalogProvider(string Name, string Dialect, Uri BaseUrl, IReadOnlyDictionary<string, string> Headers, bool IsAvailable, TimeSpan Timeout)
{
    /// <summary>The API key; never logged or shown. Excluded from <see cref="ToString"/>.</summary>
    internal string? ApiKey { get; init; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Dialect}, {BaseUrl})";
}
