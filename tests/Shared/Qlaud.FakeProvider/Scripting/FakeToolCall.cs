namespace Qlaud.FakeProvider;

/// <summary>One tool call in a scripted reply.</summary>
/// <param name="Name">The function (tool) name.</param>
/// <param name="ArgumentsJson">The arguments as a JSON object text, e.g. <c>{"city":"Paris"}</c>.</param>
/// <param name="Id">
/// The call id; when <see langword="null"/> the fake generates one in the dialect's style
/// (<c>call_…</c> for OpenAI, <c>toolu_…</c> for Anthropic).
/// </param>
/// <remarks>
/// OpenAI receives the arguments as a JSON string (<c>function.arguments</c>); Anthropic receives them as the
/// <c>input</c> object, so <paramref name="ArgumentsJson"/> must be valid JSON (empty means <c>{}</c>).
/// </remarks>
public sealed record FakeToolCall(string Name, string ArgumentsJson, string? Id = null);
