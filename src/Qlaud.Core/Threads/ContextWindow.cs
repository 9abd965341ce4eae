using System.Buffers;
using System.Text.Json;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;

namespace Qlaud.Threads;

/// <summary>
/// Fits a thread's history to the model's context window: history + new turn + <c>max_tokens</c> must fit the context length.
/// The <c>truncate</c> strategy drops the oldest whole turns until they do; <c>summarize</c> folds them into a summary. A turn
/// starts at a user message that is not a tool result, so a <c>tool_use</c> and the <c>tool_result</c> that answers it are kept,
/// dropped or folded together; the system prompt (and tools) always stay.
/// </summary>
/// <remarks>Tokens are counted with the gateway's input-token estimate for <c>count_tokens</c>
/// (<see cref="AnthropicTokenEstimator"/>), one message at a time; a stored message keeps its count, so a turn counts only its
/// new message.</remarks>
internal static class ContextWindow
{
    /// <summary>The wire name of the strategy that drops the oldest turns.</summary>
    public const string Truncate = "truncate";

    /// <summary>The wire name of the strategy that folds the oldest turns into a stored summary.</summary>
    public const string Summarize = "summarize";

    /// <summary>Chooses the messages to send, counting each message's tokens.</summary>
    /// <param name="messages">History then the new user message: each a role and a JSON array of content blocks.</param>
    /// <param name="fixedTokens">Tokens of the system prompt and tools.</param>
    /// <param name="maxTokens">The turn's <c>max_tokens</c>.</param>
    /// <param name="contextLength">The model's context length.</param>
    /// <returns>The index of the first message sent and the estimated input tokens; <c>First = -1</c> when not even the
    /// newest turn fits.</returns>
    public static (int First, long InputTokens) Fit(IReadOnlyList<(string Role, string ContentJson)> messages, long fixedTokens, long maxTokens, long contextLength)
    {
        var counted = new ContextMessage[messages.Count];
        for (int i = 0; i < counted.Length; i++)
        {
            counted[i] = new ContextMessage(messages[i].Role, messages[i].ContentJson, Estimate(messages[i].Role, messages[i].ContentJson));
        }

        return Fit(counted, fixedTokens, maxTokens, contextLength);
    }

    /// <summary>Chooses the messages to send from messages whose tokens are counted.</summary>
    /// <returns>The index of the first message sent and the estimated input tokens; <c>First = -1</c> when not even the
    /// newest turn fits.</returns>
    public static (int First, long InputTokens) Fit(IReadOnlyList<ContextMessage> messages, long fixedTokens, long maxTokens, long contextLength)
    {
        int first = FirstWithin(messages, contextLength - maxTokens - fixedTokens);
        return (first, fixedTokens + Sum(messages, first < 0 ? 0 : first));
    }

    /// <summary>The first message of the longest run of whole turns, ending with the last message, whose tokens are at most
    /// <paramref name="budget"/>; -1 when not even the last turn is within it.</summary>
    public static int FirstWithin(IReadOnlyList<ContextMessage> messages, long budget)
    {
        long total = Sum(messages, 0);
        int first = 0;
        while (total > budget)
        {
            // Drop the oldest turn: up to the next user message that starts a turn of its own.
            int next = NextTurn(messages, first);
            if (next >= messages.Count)
            {
                return -1;
            }

            for (int i = first; i < next; i++)
            {
                total -= messages[i].Tokens;
            }

            first = next;
        }

        return first;
    }

    /// <summary>The index of the first message after <paramref name="index"/> that starts a turn; <c>messages.Count</c> when none does.</summary>
    public static int NextTurn(IReadOnlyList<ContextMessage> messages, int index)
    {
        int next = index + 1;
        while (next < messages.Count && !StartsTurn(messages[next]))
        {
            next++;
        }

        return next;
    }

    /// <summary>The tokens of the messages from <paramref name="first"/> on.</summary>
    public static long Sum(IReadOnlyList<ContextMessage> messages, int first)
    {
        long total = 0;
        for (int i = first; i < messages.Count; i++)
        {
            total += messages[i].Tokens;
        }

        return total;
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

    private static bool StartsTurn(ContextMessage message)
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
