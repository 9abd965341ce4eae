namespace Qlaud.Search;

/// <summary>A search over thread messages.</summary>
/// <param name="Query">The words to look for (1 to <see cref="MaxQueryLength"/> characters).</param>
public sealed record SearchRequest(string Query)
{
    /// <summary>The longest query, in characters.</summary>
    public const int MaxQueryLength = 1000;

    /// <summary>The most hits one search returns.</summary>
    public const int MaxLimit = 100;

    /// <summary>How many hits to return (1 to <see cref="MaxLimit"/>, default 10).</summary>
    public int Limit { get; init; } = 10;

    /// <summary>Only this end user's messages. A key bound to an end user always searches only its own, whatever this says.</summary>
    public string? EndUserId { get; init; }

    /// <summary>Only this thread's messages.</summary>
    public string? ThreadId { get; init; }

    /// <summary>Only messages created after this time, Unix milliseconds (exclusive).</summary>
    public long? AfterMs { get; init; }

    /// <summary>Only messages created before this time, Unix milliseconds (exclusive).</summary>
    public long? BeforeMs { get; init; }

    /// <summary>How to rank (default <see cref="SearchMode.Hybrid"/>).</summary>
    public SearchMode Mode { get; init; } = SearchMode.Hybrid;
}
