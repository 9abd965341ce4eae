using System.Text.Json.Serialization;

namespace Qlaud.Connectors.Builtins.WebSearch;

/// <summary>The part of a Brave Search API web search answer the tool reads: <c>web.results[].{title, url, description}</c>.</summary>
internal sealed record BraveSearchResponse([property: JsonPropertyName("web")] BraveWebResults? Web);

/// <summary>Brave's <c>web</c> object.</summary>
internal sealed record BraveWebResults([property: JsonPropertyName("results")] List<BraveWebResult>? Results);

/// <summary>One Brave web result; <c>description</c> carries <c>&lt;strong&gt;</c> highlights.</summary>
internal sealed record BraveWebResult(
    [property: JsonPropertyName("title")] string? Title,
    [property: JsonPropertyName("url")] string? Url,
    [property: JsonPropertyName("description")] string? Description);

/// <summary>The body of Tavily's <c>POST /search</c> as the tool sends it.</summary>
internal sealed record TavilySearchRequest(
    [property: JsonPropertyName("query")] string Query,
    [property: JsonPropertyName("max_results")] int MaxResults,
    [property: JsonPropertyName("search_depth")] string SearchDepth);

/// <summary>The part of Tavily's search answer the tool reads: <c>results[].{title, url, content}</c>.</summary>
internal sealed record TavilySearchResponse([property: JsonPropertyName("results")] List<TavilyResult>? Results);

/// <summary>One Tavily result.</summary>
internal sealed record TavilyResult(
    [property: JsonPropertyName("title")] string? Title,
    [property: JsonPropertyName("url")] string? Url,
    [property: JsonPropertyName("content")] string? Content);

[JsonSerializable(typeof(BraveSearchResponse))]
[JsonSerializable(typeof(TavilySearchRequest))]
[JsonSerializable(typeof(TavilySearchResponse))]
internal sealed partial class WebSearchJsonContext : JsonSerializerContext;
