using System.Text.Json;

namespace Qlaud.Connectors.Builtins;

/// <summary>One call of a builtin tool.</summary>
/// <param name="Arguments">The model's arguments: a JSON object (possibly empty), never validated against the schema before the call.</param>
/// <param name="Caller">The account, key and end user the call runs for.</param>
/// <param name="CallId">The model's tool-call id, when there is one; stable across retries of the same call (an idempotency key).</param>
internal sealed record BuiltinToolCall(JsonElement Arguments, QlaudCaller Caller, string? CallId = null)
{
    /// <summary>A string argument, or null when it is missing, null or not a string.</summary>
    public string? String(string name)
        => Arguments.ValueKind == JsonValueKind.Object && Arguments.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>An integer argument, or null when it is missing or not an integer.</summary>
    public long? Integer(string name)
        => Arguments.ValueKind == JsonValueKind.Object && Arguments.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long n) ? n : null;

    /// <summary>An argument as it was sent, or <see langword="default"/> when missing.</summary>
    public JsonElement Get(string name)
        => Arguments.ValueKind == JsonValueKind.Object && Arguments.TryGetProperty(name, out var value) ? value : default;
}
