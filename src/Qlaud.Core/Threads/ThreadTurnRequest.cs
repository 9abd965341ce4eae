using System.Text.Json;

namespace Qlaud.Threads;

/// <summary>One turn to take on a thread: the JSON body of <c>POST /v1/threads/{id}/messages</c>.</summary>
/// <remarks>
/// The body is <c>{"model"?, "max_tokens", "content", "system"?, "temperature"?, "top_p"?, "top_k"?, "stop_sequences"?,
/// "metadata"?, "tools"?, "tool_choice"?, "thinking"?, "context"?}</c>: <c>content</c> is a string or an array of Anthropic
/// content blocks; the other fields are Anthropic Messages fields sent on as they are; <c>model</c> may be omitted when the
/// thread has one; <c>context</c> is <c>{"strategy":"truncate"}</c> (the only strategy so far). In process
/// <c>stream</c> is ignored.
/// </remarks>
public sealed record ThreadTurnRequest
{
    /// <summary>The request body, a JSON object.</summary>
    public required JsonElement Body { get; init; }

    /// <summary>Makes a retried turn return the first answer instead of taking a second turn (per thread).</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>A turn with a text message.</summary>
    public static ThreadTurnRequest Text(string text, int maxTokens, string? model = null, string? idempotencyKey = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var body = new Dictionary<string, JsonElement>
        {
            ["max_tokens"] = JsonSerializer.SerializeToElement(maxTokens, ThreadJsonContext.Default.Int32),
            ["content"] = JsonSerializer.SerializeToElement(text, ThreadJsonContext.Default.String),
        };
        if (model is not null)
        {
            body["model"] = JsonSerializer.SerializeToElement(model, ThreadJsonContext.Default.String);
        }

        return new ThreadTurnRequest { Body = JsonSerializer.SerializeToElement(body, ThreadJsonContext.Default.DictionaryStringJsonElement), IdempotencyKey = idempotencyKey };
    }
}
