using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.OpenAI;

internal sealed partial class OpenAIDialect
{
    private const string ChoicePrefix = Prefix + "choice.";
    private const string PromptDetailsPrefix = Prefix + "prompt_tokens_details.";
    private const string CompletionDetailsPrefix = Prefix + "completion_tokens_details.";

    /// <inheritdoc />
    public ChatResponse ReadResponse(ReadOnlySpan<byte> utf8Json)
    {
        var root = ParseBody(utf8Json, QlaudErrorKind.UpstreamError, "upstream response");
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new DialectException(QlaudErrorKind.UpstreamError, "The upstream response body is not a JSON object.");
        }

        if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
        {
            throw ReadUpstreamError(error);
        }

        try
        {
            return ReadCompletion(root);
        }
        catch (DialectException ex) when (ex.Kind == QlaudErrorKind.InvalidRequest)
        {
            throw new DialectException(QlaudErrorKind.UpstreamError, "The upstream response is malformed: " + ex.Message, ex);
        }
    }

    /// <inheritdoc />
    public void WriteResponse(Utf8JsonWriter writer, ChatResponse response, string model)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(response);
        ArgumentException.ThrowIfNullOrWhiteSpace(model);

        // The answer is what the assistant said after the last tool result: earlier turns of an in-process tool loop
        // were already acted on and must not reach the client as tool calls.
        var messages = response.Messages;
        var start = 0;
        for (var i = messages.Count - 1; i >= 0; i--)
        {
            if (messages[i].Role == ChatRole.Tool || HasToolResult(messages[i]))
            {
                start = i + 1;
                break;
            }
        }

        StringBuilder? text = null;
        StringBuilder? refusal = null;
        StringBuilder? reasoning = null;
        List<AIContent>? calls = null;
        ChatMessage? last = null;
        for (var i = start; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Role != ChatRole.Assistant)
            {
                continue;
            }

            last = message;
            var contents = message.Contents;
            for (var j = 0; j < contents.Count; j++)
            {
                switch (contents[j])
                {
                    case TextContent content when IsRefusal(content):
                        (refusal ??= new()).Append(content.Text);
                        break;
                    case TextContent content:
                        (text ??= new()).Append(content.Text);
                        break;
                    case TextReasoningContent content when content.Text.Length > 0:
                        (reasoning ??= new()).Append(content.Text);
                        break;
                    case FunctionCallContent or OpenAIRawContent { IsToolCall: true }:
                        (calls ??= []).Add(contents[j]);
                        break;
                }
            }
        }

        var properties = response.AdditionalProperties;
        writer.WriteStartObject();
        writer.WriteString("id", response.ResponseId ?? NewCompletionId());
        writer.WriteString("object", "chat.completion");
        writer.WriteNumber("created", (response.CreatedAt ?? _timeProvider.GetUtcNow()).ToUnixTimeSeconds());
        writer.WriteString("model", model);

        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", 0);
        writer.WriteStartObject("message");
        writer.WriteString("role", "assistant");
        if (text is not null)
        {
            writer.WriteString("content", text.ToString());
        }
        else if (calls is not null || refusal is not null)
        {
            writer.WriteNull("content");
        }
        else
        {
            writer.WriteString("content", "");
        }

        if (refusal is not null)
        {
            writer.WriteString("refusal", refusal.ToString());
        }
        else
        {
            writer.WriteNull("refusal");
        }

        string? reasoningField = null;
        if (reasoning is not null)
        {
            reasoningField = last?.AdditionalProperties?.TryGetValue(ReasoningFieldKey, out var field) is true && field is string fieldName
                ? fieldName
                : ReasoningContentField;
            writer.WriteString(reasoningField, reasoning.ToString());
        }

        if (calls is not null)
        {
            writer.WriteStartArray("tool_calls");
            for (var i = 0; i < calls.Count; i++)
            {
                WriteToolCall(writer, calls[i]);
            }

            writer.WriteEndArray();
        }

        WriteMessageExtras(writer, last?.AdditionalProperties, reasoningField);
        writer.WriteEndObject();

        if (properties?.TryGetValue(ChoicePrefix + "logprobs", out var logprobs) is true)
        {
            writer.WritePropertyName("logprobs");
            CanonicalJson.WriteValue(writer, logprobs);
        }
        else
        {
            writer.WriteNull("logprobs");
        }

        var finishReason = response.FinishReason is { } reason ? FromFinishReason(reason) : calls is not null ? "tool_calls" : "stop";
        writer.WriteString("finish_reason", finishReason);
        if (properties is not null)
        {
            foreach (var pair in properties)
            {
                if (pair.Key.StartsWith(ChoicePrefix, StringComparison.Ordinal) && pair.Key != ChoicePrefix + "logprobs")
                {
                    writer.WritePropertyName(pair.Key.AsSpan(ChoicePrefix.Length));
                    CanonicalJson.WriteValue(writer, pair.Value);
                }
            }
        }

        writer.WriteEndObject();
        writer.WriteEndArray();

        if (response.Usage is { } usage)
        {
            writer.WritePropertyName("usage");
            WriteUsage(writer, usage);
        }

        if (properties is not null)
        {
            foreach (var pair in properties)
            {
                if (!IsOwnKey(pair.Key) || pair.Key.StartsWith(ChoicePrefix, StringComparison.Ordinal))
                {
                    continue;
                }

                var name = pair.Key.AsSpan(Prefix.Length);
                if (name is "id" or "object" or "created" or "model" or "choices" or "usage")
                {
                    continue;
                }

                writer.WritePropertyName(name);
                CanonicalJson.WriteValue(writer, pair.Value);
            }
        }

        writer.WriteEndObject();
    }

    /// <summary>Decodes a <c>usage</c> object.</summary>
    /// <remarks>
    /// <c>prompt_tokens_details.cache_write_tokens</c> (OpenRouter) becomes <see cref="CanonicalKeys.CacheWriteTokens"/>;
    /// DeepSeek's <c>prompt_cache_hit_tokens</c> stands in for <c>cached_tokens</c> when that is absent. Other integer counts are
    /// kept under their path; non-integer fields (OpenRouter's <c>cost</c>) are not kept.
    /// </remarks>
    internal static UsageDetails ReadUsage(JsonElement usage)
    {
        var details = new UsageDetails();
        foreach (var property in usage.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "prompt_tokens":
                    details.InputTokenCount = ReadCount(value);
                    break;
                case "completion_tokens":
                    details.OutputTokenCount = ReadCount(value);
                    break;
                case "total_tokens":
                    details.TotalTokenCount = ReadCount(value);
                    break;
                case "prompt_tokens_details" when value.ValueKind == JsonValueKind.Object:
                    foreach (var detail in value.EnumerateObject())
                    {
                        if (ReadCount(detail.Value) is not long count)
                        {
                            continue;
                        }

                        switch (detail.Name)
                        {
                            case "cached_tokens":
                                details.CachedInputTokenCount = count;
                                break;
                            case "cache_write_tokens":
                                (details.AdditionalCounts ??= [])[CanonicalKeys.CacheWriteTokens] = count;
                                break;
                            default:
                                (details.AdditionalCounts ??= [])[PromptDetailsPrefix + detail.Name] = count;
                                break;
                        }
                    }

                    break;
                case "completion_tokens_details" when value.ValueKind == JsonValueKind.Object:
                    foreach (var detail in value.EnumerateObject())
                    {
                        if (ReadCount(detail.Value) is not long count)
                        {
                            continue;
                        }

                        if (detail.NameEquals("reasoning_tokens"u8))
                        {
                            details.ReasoningTokenCount = count;
                        }
                        else
                        {
                            (details.AdditionalCounts ??= [])[CompletionDetailsPrefix + detail.Name] = count;
                        }
                    }

                    break;
                default:
                    if (ReadCount(value) is long other)
                    {
                        (details.AdditionalCounts ??= [])[Prefix + property.Name] = other;
                    }

                    break;
            }
        }

        if (details.CachedInputTokenCount is null && details.AdditionalCounts?.TryGetValue(Prefix + "prompt_cache_hit_tokens", out var hits) is true)
        {
            details.CachedInputTokenCount = hits;
        }

        return details;
    }

    /// <summary>Writes a <c>usage</c> object (the property name is the caller's).</summary>
    /// <remarks><c>prompt_tokens_details.cache_write_tokens</c> is written only when the canonical usage has
    /// <see cref="CanonicalKeys.CacheWriteTokens"/>, as OpenRouter reports it; OpenAI itself never sends the field.</remarks>
    internal static void WriteUsage(Utf8JsonWriter writer, UsageDetails usage)
    {
        var input = usage.InputTokenCount ?? 0;
        var output = usage.OutputTokenCount ?? 0;
        var counts = usage.AdditionalCounts;

        writer.WriteStartObject();
        writer.WriteNumber("prompt_tokens", input);
        writer.WriteNumber("completion_tokens", output);
        writer.WriteNumber("total_tokens", usage.TotalTokenCount ?? input + output);

        writer.WriteStartObject("prompt_tokens_details");
        writer.WriteNumber("cached_tokens", usage.CachedInputTokenCount ?? 0);
        if (counts?.TryGetValue(CanonicalKeys.CacheWriteTokens, out var cacheWrite) is true)
        {
            writer.WriteNumber("cache_write_tokens", cacheWrite);
        }

        WriteCounts(writer, counts, PromptDetailsPrefix);
        writer.WriteEndObject();

        writer.WriteStartObject("completion_tokens_details");
        writer.WriteNumber("reasoning_tokens", usage.ReasoningTokenCount ?? 0);
        WriteCounts(writer, counts, CompletionDetailsPrefix);
        writer.WriteEndObject();

        if (counts is not null)
        {
            foreach (var pair in counts)
            {
                if (IsOwnKey(pair.Key) && pair.Key.IndexOf('.', Prefix.Length) < 0)
                {
                    writer.WriteNumber(pair.Key.AsSpan(Prefix.Length), pair.Value);
                }
            }
        }

        writer.WriteEndObject();
    }

    /// <summary>A fresh completion id, for responses that arrive without one.</summary>
    internal static string NewCompletionId() => "chatcmpl-" + Guid.NewGuid().ToString("N");

    private static void WriteCounts(Utf8JsonWriter writer, AdditionalPropertiesDictionary<long>? counts, string prefix)
    {
        if (counts is null)
        {
            return;
        }

        foreach (var pair in counts)
        {
            if (pair.Key.StartsWith(prefix, StringComparison.Ordinal))
            {
                writer.WriteNumber(pair.Key.AsSpan(prefix.Length), pair.Value);
            }
        }
    }

    private static long? ReadCount(JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var count) ? count : null;

    private static bool HasToolResult(ChatMessage message)
    {
        var contents = message.Contents;
        for (var i = 0; i < contents.Count; i++)
        {
            if (contents[i] is FunctionResultContent)
            {
                return true;
            }
        }

        return false;
    }

    private static ChatResponse ReadCompletion(JsonElement root)
    {
        var response = new ChatResponse();
        AdditionalPropertiesDictionary? extra = null;
        var message = new ChatMessage(ChatRole.Assistant, new List<AIContent>());

        foreach (var property in root.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "id":
                    response.ResponseId = OptionalString(value, "id");
                    break;
                case "object":
                    break;
                case "created":
                    response.CreatedAt = OptionalInt64(value, "created") is long created ? DateTimeOffset.FromUnixTimeSeconds(created) : null;
                    break;
                case "model":
                    response.ModelId = OptionalString(value, "model");
                    break;
                case "choices" when value.ValueKind == JsonValueKind.Array:
                    foreach (var choice in value.EnumerateArray())
                    {
                        if (choice.ValueKind == JsonValueKind.Object && (!choice.TryGetProperty("index", out var index) || (index.TryGetInt32(out var number) && number == 0)))
                        {
                            ReadChoice(choice, message, response, ref extra);
                            break;
                        }
                    }

                    break;
                case "usage" when value.ValueKind == JsonValueKind.Object:
                    response.Usage = ReadUsage(value);
                    break;
                default:
                    // system_fingerprint, service_tier and provider fields.
                    (extra ??= [])[Prefix + property.Name] = value;
                    break;
            }
        }

        message.MessageId = response.ResponseId;
        response.Messages = [message];
        response.AdditionalProperties = extra;
        return response;
    }

    private static void ReadChoice(JsonElement choice, ChatMessage message, ChatResponse response, ref AdditionalPropertiesDictionary? extra)
    {
        foreach (var property in choice.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "index":
                    break;
                case "message" when value.ValueKind == JsonValueKind.Object:
                    ReadResponseMessage(value, message);
                    break;
                case "finish_reason" when value.ValueKind == JsonValueKind.String:
                    response.FinishReason = ReadFinishReason(value.GetString()!, ref extra);
                    break;
                case "finish_reason" when value.ValueKind == JsonValueKind.Null:
                    break;
                default:
                    (extra ??= [])[ChoicePrefix + property.Name] = value;
                    break;
            }
        }
    }

    private static void ReadResponseMessage(JsonElement value, ChatMessage message)
    {
        // The wire message reads like a request message; reuse that reader and keep what it found.
        var decoded = ReadMessage(value, 0, defaultRole: "assistant");
        message.Role = decoded.Role;
        message.AuthorName = decoded.AuthorName;
        message.AdditionalProperties = decoded.AdditionalProperties;
        message.Contents = decoded.Contents;
    }
}
