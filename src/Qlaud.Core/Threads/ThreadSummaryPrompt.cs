using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Qlaud.Threads;

/// <summary>
/// The <c>summarize</c> strategy's texts: the request that folds a thread's oldest messages into its summary, and the system
/// prompt that carries the summary to the model on later turns.
/// </summary>
/// <remarks>The folded messages are written as a plain transcript (<c>User:</c> / <c>Assistant:</c> lines; tool calls and
/// results as bracketed notes, media as placeholders) in one user message, so any model can summarize them and no
/// <c>tool_use</c> travels without its <c>tool_result</c>.</remarks>
internal static class ThreadSummaryPrompt
{
    /// <summary>The system prompt of a summary call.</summary>
    public const string Instructions =
        "You keep the running summary of a conversation between a user and an AI assistant. Write a concise summary that keeps "
        + "every fact, name, number, decision, preference, instruction and open question the assistant needs to continue the "
        + "conversation. Answer with the summary only.";

    /// <summary>What introduces the summary in the system prompt of a turn.</summary>
    public const string SummaryHeading = "Summary of the earlier part of this conversation:";

    /// <summary>Tokens kept for the summary's framing in the system prompt, beyond the summary itself.</summary>
    public const int FramingTokens = 32;

    /// <summary>The user message of a summary call: the previous summary, if any, then the transcript of the messages to fold.</summary>
    public static string Transcript(string? previousSummary, IReadOnlyList<ContextMessage> folded)
    {
        var text = new StringBuilder(1024);
        if (previousSummary is not null)
        {
            text.Append("Summary so far:\n").Append(previousSummary).Append("\n\n");
        }

        text.Append(previousSummary is null ? "Conversation to summarize:\n" : "Conversation since then:\n");
        foreach (var message in folded)
        {
            text.Append(message.Role == "assistant" ? "Assistant: " : "User: ");
            AppendBlocks(text, message.ContentJson);
            text.Append('\n');
        }

        text.Append(previousSummary is null ? "\nWrite the summary." : "\nWrite the updated summary.");
        return text.ToString();
    }

    /// <summary>The Anthropic Messages request of a summary call.</summary>
    public static byte[] Request(string model, int maxTokens, string transcript)
    {
        var buffer = new ArrayBufferWriter<byte>(transcript.Length + 1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("model", model);
            writer.WriteNumber("max_tokens", maxTokens);
            writer.WriteString("system", Instructions);
            writer.WriteStartArray("messages");
            writer.WriteStartObject();
            writer.WriteString("role", "user");
            writer.WriteStartArray("content");
            writer.WriteStartObject();
            writer.WriteString("type", "text");
            writer.WriteString("text", transcript);
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The text blocks of a reply's content, joined.</summary>
    public static string ReplyText(string contentJson)
    {
        using var document = JsonDocument.Parse(contentJson);
        var text = new StringBuilder();
        foreach (var block in document.RootElement.EnumerateArray())
        {
            if (block.TryGetProperty("type", out var type) && type.ValueEquals("text"u8) && block.TryGetProperty("text", out var value))
            {
                text.Append(value.GetString());
            }
        }

        return text.ToString().Trim();
    }

    /// <summary>The turn's system prompt with the summary after it: a string stays a string, an array of blocks gets a text block.</summary>
    public static JsonElement WithSummary(JsonElement system, string summary)
    {
        string framed = SummaryHeading + "\n" + summary;
        var buffer = new ArrayBufferWriter<byte>(framed.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            switch (system.ValueKind)
            {
                case JsonValueKind.String:
                    writer.WriteStringValue(system.GetString() + "\n\n" + framed);
                    break;
                case JsonValueKind.Array:
                    writer.WriteStartArray();
                    foreach (var block in system.EnumerateArray())
                    {
                        block.WriteTo(writer);
                    }

                    writer.WriteStartObject();
                    writer.WriteString("type", "text");
                    writer.WriteString("text", framed);
                    writer.WriteEndObject();
                    writer.WriteEndArray();
                    break;
                default:
                    writer.WriteStringValue(framed);
                    break;
            }
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    private static void AppendBlocks(StringBuilder text, string contentJson)
    {
        using var document = JsonDocument.Parse(contentJson);
        bool first = true;
        foreach (var block in document.RootElement.EnumerateArray())
        {
            string type = block.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
            string? part = type switch
            {
                "text" => block.TryGetProperty("text", out var value) ? value.GetString() : null,
                "tool_use" => $"[called tool {Property(block, "name")} with {(block.TryGetProperty("input", out var input) ? input.GetRawText() : "{}")}]",
                "tool_result" => $"[tool result: {ToolResultText(block)}]",
                "thinking" or "redacted_thinking" => null,
                "" => null,
                _ => $"[{type}]",
            };
            if (part is null)
            {
                continue;
            }

            if (!first)
            {
                text.Append(' ');
            }

            text.Append(part);
            first = false;
        }
    }

    private static string ToolResultText(JsonElement block)
    {
        if (!block.TryGetProperty("content", out var content))
        {
            return "";
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }

        var text = new StringBuilder();
        if (content.ValueKind == JsonValueKind.Array)
        {
            foreach (var part in content.EnumerateArray())
            {
                text.Append(part.TryGetProperty("text", out var value) ? value.GetString() : "[" + Property(part, "type") + "]");
            }
        }

        return text.ToString();
    }

    private static string Property(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
}
