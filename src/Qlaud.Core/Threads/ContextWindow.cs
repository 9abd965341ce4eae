using System.Buffers;
using System.Text.Json;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;

namespace Qlaud.Threads;

/// <summary>
/// The <c>truncate</c> strategy: history + new turn + <c>max_tokens</c> must fit the context length; the oldest whole turns
/// are dropped until they do. A turn starts at a user message that is not a tool result, so a <c>tool_use</c> and the
/// <c>tool_result</c> that answers it are kept or dropped together; the system prompt (and tools) always stay.
/// </summary>
/// <remarks>Tokens are counted with the gateway's input-token estimate for <c>count_tokens</c>
/// (<see cref="AnthropicTokenEstimator"/>), one message at a time.</remarks>
internal static class ContextWindow
{
    /// <summary>The strategy's wire name.</summary>
    public const string Truncate = "truncate";

    /// <summary>Chooses the messages to send.</summary>
    /// <param name="messages">History then the new user message: each a role and a JSON array of content blocks.</param>
    /// <param name="fixedTokens">Tokens of the system prompt and tools.</param>
    /// <param name="maxTokens">The turn's <c>max_tokens</c>.</param>
    /// <param name="contextLength">The model's context length.</param>
    /// <returns>The index of the first message sent and the estimated input tokens; <c>First = -1</c> when not even the
    /// newest turn fits.</returns>
    public static (int First, long InputTokens) Fit(IReadOnlyList<(string Role, string ContentJson)> messages, long fixedTokens, long maxTokens, long contextLength)
    {
        var tokens = new long[messages.Count];
        long total = fixedTokens;
        for (int i = 0; i < messages.Count; i++)
        {
            tokens[i] = Estimate(messages[i].Role, messages[i].ContentJson);
            total += tokens[i];
        }

        int first = 0;
        while (total + maxTokens > contextLength)
        {
            // Drop the oldest turn: up to the next user message that starts a turn of its own.
            int next = first + 1;
            while (next < messages.Count && !StartsTurn(messages[next]))
            {
                next++;
            }

            if (next >= messages.Count)
            {
                return (-1, total);
            }

            for (int i = first; i < next; i++)
            {
                total -= tokens[i];
            }

            first = next;
        }

        return (first, total);
    }

    /// <summary>Tokens of the system prompt and the tools of a request (raw JSON values; <c>default</c> when absent).</summary>
    public static long EstimateFixed(JsonElement system, JsonElement tools)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("model", "x");
            if (system.ValueKind != JsonValueKind.Undefined)
            {
                writer.WritePropertyName("system");
                system.WriteTo(writer);
            }

            if (tools.ValueKind != JsonValueKind.Undefined)
            {
                writer.WritePropertyName("tools");
                tools.WriteTo(writer);
            }

            writer.WriteStartArray("messages");
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return AnthropicTokenEstimator.EstimateInputTokens(AnthropicDialect.Instance.ReadCountTokensRequest(buffer.WrittenSpan));
    }

    /// <summary>Tokens of one message; throws <see cref="DialectException"/> when its content is not valid Anthropic content.</summary>
    public static long Estimate(string role, string contentJson)
    {
        var buffer = new ArrayBufferWriter<byte>(contentJson.Length + 64);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("model", "x");
            writer.WriteStartArray("messages");
            writer.WriteStartObject();
            writer.WriteString("role", role);
            writer.WritePropertyName("content");
            writer.WriteRawValue(contentJson, skipInputValidation: true);
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return AnthropicTokenEstimator.EstimateInputTokens(AnthropicDialect.Instance.ReadCountTokensRequest(buffer.WrittenSpan));
    }

    private static bool StartsTurn((string Role, string ContentJson) message)
    {
        if (message.Role != "user")
        {
            return false;
        }

        using var document = JsonDocument.Parse(message.ContentJson);
        foreach (var block in document.RootElement.EnumerateArray())
        {
            if (block.ValueKind == JsonValueKind.Object && block.TryGetProperty("type", out var type) && type.ValueEquals("tool_result"u8))
            {
                return false;
            }
        }

        return true;
    }
}
