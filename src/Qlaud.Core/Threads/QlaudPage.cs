namespace Qlaud.Threads;

/// <summary>One page of a list, with the cursors of its ends (the Anthropic and OpenAI list shape).</summary>
/// <typeparam name="T">The item type.</typeparam>
/// <param name="Data">The items, in the requested order.</param>
/// <param name="HasMore">Whether more items follow in the direction paged (after <see cref="LastId"/> when paging forward,
/// before <see cref="FirstId"/> when paging with <c>before</c>).</param>
/// <param name="FirstId">The id of the first item, the cursor for <c>before</c>; null when empty.</param>
/// <param name="LastId">The id of the last item, the cursor for <c>after</c>; null when empty.</param>
public sealed record QlaudPage<T>(IReadOnlyList<T> Data, bool HasMore, string? FirstId, string? LastId);
