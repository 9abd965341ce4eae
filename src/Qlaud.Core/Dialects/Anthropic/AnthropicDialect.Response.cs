using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.Anthropic;

// Responses: non-streamed message objects.
internal sealed partial class AnthropicDialect
{
    /// <summary>Message fields that <see cref="WriteResponse"/> writes itself.</summary>
    private static readonly string[] s_responseFields = ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"];

    private static readonly string[] s_usageCounts = ["input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"];

    /// <inheritdoc />
    /// <remarks>
    /// <c>stop_reason</c> is mapped (end_turn, stop_sequence, pause_turn → stop; max_tokens, model_context_window_exceeded →
    /// length; tool_use → tool calls; refusal → content filter) and kept raw under <see cref="CanonicalKeys.RawFinishReason"/>;
    /// the matched <c>stop_sequence</c> is kept under <c>anthropic:stop_sequence</c>, the raw <c>usage</c> object (service
    /// tier, cache breakdown, server tool counts) under <c>anthropic:usage</c>. An error envelope throws
    /// <see cref="DialectException"/>.
    /// </remarks>
    public ChatResponse ReadResponse(ReadOnlySpan<byte> utf8Json)
    {
        JsonElement root;
        try
        {
            root = ParseBody(utf8Json, "response");
        }
        catch (DialectException ex)
        {
            throw new DialectException(QlaudErrorKind.UpstreamError, ex.Message, ex.InnerException);
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new DialectException(QlaudErrorKind.UpstreamError, "The upstream response is not a JSON object.");
        }

        if (root.TryGetProperty("type", out var type) && type.ValueEquals("error"))
        {
            throw UpstreamError(root);
        }

        var response = new ChatResponse();
        var message = new ChatMessage(ChatRole.Assistant, []);
        AdditionalPropertiesDictionary? additional = null;
        try
        {
            foreach (var property in root.EnumerateObject())
            {
                var value = property.Value;
                switch (property.Name)
                {
                    case "id":
                        response.ResponseId = message.MessageId = value.GetString();
                        break;
                    case "type":
                        break;
                    case "role":
                        break;
                    case "model":
                        response.ModelId = value.GetString();
                        break;
                    case "content":
                        if (value.ValueKind == JsonValueKind.Array)
                        {
                            int i = 0;
                            foreach (var block in value.EnumerateArray())
                            {
                                message.Contents.Add(ReadBlock(block, new BlockPath("content", i++)));
                            }
                        }

                        break;
                    case "stop_reason":
                        if (value.ValueKind == JsonValueKind.String)
                        {
                            string reason = value.GetString()!;
                            response.FinishReason = MapStopReason(reason);
                            (additional ??= [])[CanonicalKeys.RawFinishReason] = reason;
                        }

                        break;
                    case "stop_sequence":
                        if (value.ValueKind == JsonValueKind.String)
                        {
                            (additional ??= [])[Key("stop_sequence")] = value;
                        }

                        break;
                    case "usage":
                        if (value.ValueKind == JsonValueKind.Object)
                        {
                            response.Usage = ReadUsage(value);
                            (additional ??= [])[Key("usage")] = value;
                        }

                        break;
                    default:
                        (additional ??= [])[Key(property.Name)] = value;
                        break;
                }
            }
        }
        catch (DialectException ex)
        {
            throw new DialectException(QlaudErrorKind.UpstreamError, "The upstream response is malformed: " + ex.Message, ex);
        }
        catch (InvalidOperationException ex)
        {
            throw new DialectException(QlaudErrorKind.UpstreamError, "The upstream response is malformed: " + ex.Message, ex);
        }

        response.Messages.Add(message);
        response.AdditionalProperties = additional;
        return response;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Every message's content goes into the one <c>content</c> array. Reasoning without a signature (from another
    /// provider) is shown as a thinking block with an empty signature; an Anthropic upstream never receives it back, as
    /// <see cref="WriteRequest(Utf8JsonWriter, CanonicalChatRequest, string)"/> drops it. Usage splits the canonical input into <c>input_tokens</c>,
    /// <c>cache_read_input_tokens</c> and <c>cache_creation_input_tokens</c>.
    /// </remarks>
    public void WriteResponse(Utf8JsonWriter writer, ChatResponse response, string model)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(model);

        var extras = response.AdditionalProperties;
        writer.WriteStartObject();
        writer.WriteString("id", MessageId(response.ResponseId));
        writer.WriteString("type", "message");
        writer.WriteString("role", "assistant");
        writer.WriteString("model", model);
        writer.WritePropertyName("content");
        writer.WriteStartArray();
        bool hadToolCalls = false;
        var messages = response.Messages;
        for (int m = 0; m < messages.Count; m++)
        {
            var contents = messages[m].Contents;
            for (int j = 0; j < contents.Count; j++)
            {
                hadToolCalls |= contents[j] is FunctionCallContent;
                WriteBlock(writer, contents[j], BlockTarget.Response);
            }
        }

        writer.WriteEndArray();
        object? raw = null;
        extras?.TryGetValue(CanonicalKeys.RawFinishReason, out raw);
        writer.WriteString("stop_reason", StopReasonFor(response.FinishReason, raw, hadToolCalls));
        writer.WritePropertyName("stop_sequence");
        if (extras is not null && extras.TryGetValue(Key("stop_sequence"), out var stopSequence) && stopSequence is not null)
        {
            WriteValue(writer, stopSequence);
        }
        else
        {
            writer.WriteNullValue();
        }

        writer.WritePropertyName("usage");
        WriteUsage(writer, response.Usage, extras is not null && extras.TryGetValue(Key("usage"), out var rawUsage) ? rawUsage : null);
        WriteExtras(writer, extras, s_responseFields);
        writer.WriteEndObject();
    }

    private static void WriteUsage(Utf8JsonWriter writer, UsageDetails? usage, object? rawUsage)
    {
        var (input, cacheRead, cacheWrite) = SplitInput(usage);
        writer.WriteStartObject();
        writer.WriteNumber("input_tokens", input);
        writer.WriteNumber("cache_creation_input_tokens", cacheWrite);
        writer.WriteNumber("cache_read_input_tokens", cacheRead);
        writer.WriteNumber("output_tokens", usage?.OutputTokenCount ?? 0);
        if (rawUsage is JsonElement { ValueKind: JsonValueKind.Object } raw)
        {
            // Service tier, cache breakdown by TTL, server tool counts: what the canonical usage has no property for.
            foreach (var property in raw.EnumerateObject())
            {
                if (!Contains(s_usageCounts, property.Name))
                {
                    property.WriteTo(writer);
                }
            }
        }

        writer.WriteEndObject();
    }
}
