using Microsoft.Extensions.AI;
using Qlaud.Catalog;

namespace Qlaud.Metering;

/// <summary>A chat request as the metering decorator routed it: the same message list and options instances, and their routes.</summary>
/// <remarks>Reused by the inner client only for those very instances with the same model, tool count and stream flag, so
/// a decorator in between that changes the request gets a selection of its own.</remarks>
internal sealed record RoutedChat(IList<ChatMessage> Messages, ChatOptions Options, string? ModelId, int ToolCount, bool Stream, IReadOnlyList<CatalogRoute> Candidates)
{
    /// <summary>Whether this routing answers for <paramref name="messages"/> and <paramref name="options"/> as they are now.</summary>
    public bool Matches(IEnumerable<ChatMessage> messages, ChatOptions? options, bool stream)
        => options is not null && ReferenceEquals(messages, Messages) && ReferenceEquals(options, Options) && Stream == stream
            && string.Equals(options.ModelId, ModelId, StringComparison.Ordinal) && (options.Tools?.Count ?? 0) == ToolCount;
}
