namespace Qlaud.Threads;

/// <summary>Cursor pagination: <c>limit</c>, <c>after</c>, <c>before</c> and <c>order</c>, as on OpenAI's and Anthropic's list endpoints.</summary>
public record PageOptions
{
    /// <summary>The largest page size.</summary>
    public const int MaxLimit = 100;

    /// <summary>Items per page, 1 to <see cref="MaxLimit"/>; 20 by default.</summary>
    public int Limit { get; init; } = 20;

    /// <summary>An item id: the page starts just after it (in <see cref="Order"/>).</summary>
    public string? After { get; init; }

    /// <summary>An item id: the page ends just before it (in <see cref="Order"/>).</summary>
    public string? Before { get; init; }

    /// <summary><see cref="ListOrder.Descending"/> (newest first, the default) or <see cref="ListOrder.Ascending"/>.</summary>
    public ListOrder Order { get; init; } = ListOrder.Descending;
}

/// <summary>The order of a list by creation.</summary>
public enum ListOrder
{
    /// <summary>Newest first (<c>desc</c>).</summary>
    Descending,

    /// <summary>Oldest first (<c>asc</c>).</summary>
    Ascending,
}
