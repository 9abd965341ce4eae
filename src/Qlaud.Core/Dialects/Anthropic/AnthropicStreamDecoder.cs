using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.Anthropic;

/// <summary>
/// Decodes one Anthropic Messages event stream into canonical updates.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>message_start</c> → an update with the message id, model and a <see cref="UsageContent"/> of the input counts
/// (cache reads and writes included, per <see cref="CanonicalKeys"/>).</item>
/// <item>text blocks → <see cref="TextContent"/> deltas; thinking blocks → <see cref="TextReasoningContent"/> deltas, the
/// <c>signature_delta</c> as a <see cref="TextReasoningContent"/> with empty text and the signature in
/// <see cref="TextReasoningContent.ProtectedData"/> (MEAI's update coalescing joins them into one signed block);
/// <c>redacted_thinking</c> → a <see cref="TextReasoningContent"/> marked <see cref="CanonicalKeys.Redacted"/>.</item>
/// <item><c>tool_use</c> blocks → <see cref="ToolCallDeltaContent"/>, indexed by the call's ordinal among the message's
/// tool_use blocks, id and name on the first fragment, each <c>partial_json</c> as <see cref="ToolCallDeltaContent.ArgumentsDelta"/>.</item>
/// <item>server tool blocks and others → one <see cref="AnthropicRawContent"/> at their <c>content_block_stop</c>, their
/// streamed input folded in.</item>
/// <item><c>message_delta</c> → <see cref="ChatResponseUpdate.FinishReason"/> (raw under
/// <see cref="CanonicalKeys.RawFinishReason"/>) and a <see cref="UsageContent"/>. Anthropic's usage is cumulative; the
/// decoder reports only what was not reported yet, so the updates' usages add up to the total, as MEAI's
/// <c>ToChatResponse</c> sums them.</item>
/// <item><c>message_stop</c> → <see cref="Completed"/>; <c>ping</c> and unknown events are ignored; an <c>error</c> event
/// throws <see cref="DialectException"/> (overloaded → unavailable, rate limit → rate limited, others upstream error).</item>
/// </list>
/// </remarks>
internal sealed class AnthropicStreamDecoder : IStreamDecoder
{
    private enum EventKind
    {
        Unknown,
        MessageStart,
        ContentBlockStart,
        ContentBlockDelta,
        ContentBlockStop,
        MessageDelta,
        MessageStop,
        Ping,
        Error,
    }

    private enum BlockKind
    {
        Text,
        Thinking,
        RedactedThinking,
        ToolUse,
        Other,
    }

    private enum DeltaKind
    {
        Other,
        Text,
        Thinking,
        Signature,
        InputJson,
    }

    private sealed class Block(BlockKind kind)
    {
        public BlockKind Kind { get; } = kind;

        public int ToolIndex { get; init; } = -1;

        public bool SawInput { get; set; }

        public string? StartInput { get; init; }

        public JsonElement Start { get; init; }

        public StringBuilder? Json { get; set; }
    }

    private readonly List<Block?> _blocks = [];
    private int _toolCount;
    private string? _messageId;
    private string? _model;
    private long _input, _cacheRead, _cacheWrite, _output;

    /// <inheritdoc />
    public bool Completed { get; private set; }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> eventType, ReadOnlySpan<byte> data, List<ChatResponseUpdate> updates)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (data.IsEmpty)
        {
            return;
        }

        try
        {
            switch (eventType.IsEmpty ? PeekType(data) : Classify(eventType))
            {
                case EventKind.ContentBlockDelta:
                    DecodeDelta(data, updates);
                    break;
                case EventKind.MessageStart:
                    DecodeMessageStart(Parse(data), updates);
                    break;
                case EventKind.ContentBlockStart:
                    DecodeBlockStart(Parse(data), updates);
                    break;
                case EventKind.ContentBlockStop:
                    DecodeBlockStop(Parse(data), updates);
                    break;
                case EventKind.MessageDelta:
                    DecodeMessageDelta(Parse(data), updates);
                    break;
                case EventKind.MessageStop:
                    Completed = true;
                    break;
                case EventKind.Error:
                    throw AnthropicDialect.UpstreamError(Parse(data));
            }
        }
        catch (JsonException ex)
        {
            throw new DialectException(QlaudErrorKind.UpstreamError, "The upstream stream sent malformed JSON: " + ex.Message, ex);
        }
        catch (InvalidOperationException ex)
        {
            throw new DialectException(QlaudErrorKind.UpstreamError, "The upstream stream sent an unexpected event: " + ex.Message, ex);
        }
    }

    private static EventKind Classify(ReadOnlySpan<byte> type) => type switch
    {
        _ when type.SequenceEqual("content_block_delta"u8) => EventKind.ContentBlockDelta,
        _ when type.SequenceEqual("content_block_start"u8) => EventKind.ContentBlockStart,
        _ when type.SequenceEqual("content_block_stop"u8) => EventKind.ContentBlockStop,
        _ when type.SequenceEqual("message_start"u8) => EventKind.MessageStart,
        _ when type.SequenceEqual("message_delta"u8) => EventKind.MessageDelta,
        _ when type.SequenceEqual("message_stop"u8) => EventKind.MessageStop,
        _ when type.SequenceEqual("ping"u8) => EventKind.Ping,
        _ when type.SequenceEqual("error"u8) => EventKind.Error,
        _ => EventKind.Unknown,
    };

    /// <summary>The event kind from the data's top-level <c>type</c>, for streams relayed without <c>event:</c> lines.</summary>
    private static EventKind PeekType(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return EventKind.Unknown;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isType = reader.ValueTextEquals("type"u8);
            reader.Read();
            if (isType)
            {
                return reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped ? Classify(reader.ValueSpan) : EventKind.Unknown;
            }

            reader.Skip();
        }

        return EventKind.Unknown;
    }

    private static JsonElement Parse(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data, new JsonReaderOptions { MaxDepth = 256 });
        return JsonElement.ParseValue(ref reader);
    }

    private ChatResponseUpdate NewUpdate(AIContent? content) => new()
    {
        Role = ChatRole.Assistant,
        ResponseId = _messageId,
        MessageId = _messageId,
        ModelId = _model,
        Contents = content is null ? [] : [content],
    };

    private void DecodeMessageStart(JsonElement root, List<ChatResponseUpdate> updates)
    {
        if (!root.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        AdditionalPropertiesDictionary? extras = null;
        JsonElement usage = default;
        foreach (var property in message.EnumerateObject())
        {
            switch (property.Name)
            {
                case "id":
                    _messageId = property.Value.GetString();
                    break;
                case "model":
                    _model = property.Value.GetString();
                    break;
                case "usage":
                    usage = property.Value;
                    break;
                case "type" or "role" or "content" or "stop_reason" or "stop_sequence":
                    break;
                default:
                    (extras ??= [])[AnthropicDialect.Key(property.Name)] = property.Value;
                    break;
            }
        }

        var update = NewUpdate(null);
        update.AdditionalProperties = extras;
        if (usage.ValueKind == JsonValueKind.Object)
        {
            // Input only: message_start's output_tokens is a partial count that message_delta supersedes.
            var details = Increment(usage, includeOutput: false);
            if (details is not null)
            {
                update.Contents.Add(new UsageContent(details));
            }
        }

        updates.Add(update);
    }

    private void DecodeBlockStart(JsonElement root, List<ChatResponseUpdate> updates)
    {
        int index = root.GetProperty("index").GetInt32();
        var block = root.GetProperty("content_block");
        string? type = block.TryGetProperty("type", out var t) ? t.GetString() : null;
        Block state;
        switch (type)
        {
            case "text":
                state = new Block(BlockKind.Text);
                if (block.TryGetProperty("text", out var text) && text.GetString() is { Length: > 0 } initial)
                {
                    updates.Add(NewUpdate(new TextContent(initial)));
                }

                break;
            case "thinking":
                state = new Block(BlockKind.Thinking);
                if (block.TryGetProperty("thinking", out var thinking) && thinking.GetString() is { Length: > 0 } thought)
                {
                    updates.Add(NewUpdate(new TextReasoningContent(thought)));
                }

                if (block.TryGetProperty("signature", out var signature) && signature.GetString() is { Length: > 0 } sig)
                {
                    updates.Add(NewUpdate(new TextReasoningContent("") { ProtectedData = sig }));
                }

                break;
            case "redacted_thinking":
                state = new Block(BlockKind.RedactedThinking);
                updates.Add(NewUpdate(new TextReasoningContent("")
                {
                    ProtectedData = block.GetProperty("data").GetString(),
                    AdditionalProperties = new() { [CanonicalKeys.Redacted] = true },
                }));
                break;
            case "tool_use":
            {
                string? startInput = block.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.Object
                    && input.EnumerateObject().MoveNext() ? input.GetRawText() : null;
                state = new Block(BlockKind.ToolUse) { ToolIndex = _toolCount++, StartInput = startInput };
                updates.Add(NewUpdate(new ToolCallDeltaContent
                {
                    Index = state.ToolIndex,
                    CallId = block.GetProperty("id").GetString(),
                    Name = block.GetProperty("name").GetString(),
                }));
                break;
            }

            default:
                state = new Block(BlockKind.Other) { Start = block };
                break;
        }

        while (_blocks.Count <= index)
        {
            _blocks.Add(null);
        }

        _blocks[index] = state;
    }

    private Block? BlockAt(int index) => index >= 0 && index < _blocks.Count ? _blocks[index] : null;

    /// <summary>Decodes <c>content_block_delta</c>, the most frequent event, with a reader instead of a document.</summary>
    private void DecodeDelta(ReadOnlySpan<byte> data, List<ChatResponseUpdate> updates)
    {
        var reader = new Utf8JsonReader(data);
        int index = -1;
        var kind = DeltaKind.Other;
        string? payload = null;
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("index"u8))
            {
                reader.Read();
                index = reader.GetInt32();
            }
            else if (reader.ValueTextEquals("delta"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("type"u8))
                    {
                        reader.Read();
                        kind = reader.ValueTextEquals("text_delta"u8) ? DeltaKind.Text
                            : reader.ValueTextEquals("thinking_delta"u8) ? DeltaKind.Thinking
                            : reader.ValueTextEquals("input_json_delta"u8) ? DeltaKind.InputJson
                            : reader.ValueTextEquals("signature_delta"u8) ? DeltaKind.Signature
                            : DeltaKind.Other;
                    }
                    else if (reader.ValueTextEquals("text"u8) || reader.ValueTextEquals("thinking"u8)
                        || reader.ValueTextEquals("partial_json"u8) || reader.ValueTextEquals("signature"u8))
                    {
                        reader.Read();
                        payload = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    }
                    else
                    {
                        reader.Read();
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        var block = BlockAt(index);
        switch (kind)
        {
            case DeltaKind.Text when !string.IsNullOrEmpty(payload):
                updates.Add(NewUpdate(new TextContent(payload)));
                break;
            case DeltaKind.Thinking when !string.IsNullOrEmpty(payload):
                updates.Add(NewUpdate(new TextReasoningContent(payload)));
                break;
            case DeltaKind.Signature when !string.IsNullOrEmpty(payload):
                updates.Add(NewUpdate(new TextReasoningContent("") { ProtectedData = payload }));
                break;
            case DeltaKind.InputJson when !string.IsNullOrEmpty(payload) && block is not null:
                if (block.Kind == BlockKind.ToolUse)
                {
                    block.SawInput = true;
                    updates.Add(NewUpdate(new ToolCallDeltaContent { Index = block.ToolIndex, ArgumentsDelta = payload }));
                }
                else if (block.Kind == BlockKind.Other)
                {
                    (block.Json ??= new StringBuilder()).Append(payload);
                }

                break;
            case DeltaKind.Other:
                DecodeOtherDelta(Parse(data), updates);
                break;
        }
    }

    /// <summary>Deltas without a canonical counterpart (<c>citations_delta</c>, future types) travel as an empty text with the
    /// delta under <c>anthropic:&lt;delta type&gt;</c>.</summary>
    private void DecodeOtherDelta(JsonElement root, List<ChatResponseUpdate> updates)
    {
        if (!root.TryGetProperty("delta", out var delta) || delta.ValueKind != JsonValueKind.Object
            || !delta.TryGetProperty("type", out var type) || type.GetString() is not { Length: > 0 } name)
        {
            return;
        }

        updates.Add(NewUpdate(new TextContent("") { AdditionalProperties = new() { [AnthropicDialect.Key(name)] = delta } }));
    }

    private void DecodeBlockStop(JsonElement root, List<ChatResponseUpdate> updates)
    {
        var block = BlockAt(root.GetProperty("index").GetInt32());
        if (block is null)
        {
            return;
        }

        if (block.Kind == BlockKind.ToolUse && !block.SawInput && block.StartInput is not null)
        {
            // The input came whole in content_block_start (no input_json_delta followed).
            updates.Add(NewUpdate(new ToolCallDeltaContent { Index = block.ToolIndex, ArgumentsDelta = block.StartInput }));
        }
        else if (block.Kind == BlockKind.Other)
        {
            updates.Add(NewUpdate(new AnthropicRawContent(block.Json is { Length: > 0 } json ? WithInput(block.Start, json.ToString()) : block.Start)));
        }
    }

    /// <summary>The start block with its <c>input</c> replaced by the streamed input JSON.</summary>
    private static JsonElement WithInput(JsonElement start, string inputJson)
    {
        JsonElement input;
        try
        {
            input = JsonElement.Parse(inputJson);
        }
        catch (JsonException)
        {
            return start;
        }

        var buffer = new ArrayBufferWriter<byte>(start.GetRawText().Length + inputJson.Length + 16);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var property in start.EnumerateObject())
            {
                if (property.NameEquals("input"u8))
                {
                    continue;
                }

                property.WriteTo(writer);
            }

            writer.WritePropertyName("input"u8);
            input.WriteTo(writer);
            writer.WriteEndObject();
        }

        return JsonElement.Parse(buffer.WrittenSpan);
    }

    private void DecodeMessageDelta(JsonElement root, List<ChatResponseUpdate> updates)
    {
        var update = NewUpdate(null);
        if (root.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object)
        {
            if (delta.TryGetProperty("stop_reason", out var stop) && stop.ValueKind == JsonValueKind.String)
            {
                string reason = stop.GetString()!;
                update.FinishReason = AnthropicDialect.MapStopReason(reason);
                (update.AdditionalProperties ??= [])[CanonicalKeys.RawFinishReason] = reason;
            }

            if (delta.TryGetProperty("stop_sequence", out var sequence) && sequence.ValueKind == JsonValueKind.String)
            {
                (update.AdditionalProperties ??= [])[AnthropicDialect.Key("stop_sequence")] = sequence;
            }
        }

        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
            && Increment(usage, includeOutput: true) is { } details)
        {
            update.Contents.Add(new UsageContent(details));
        }

        updates.Add(update);
    }

    /// <summary>What a cumulative Anthropic usage adds to what was already reported, or null when nothing changed.</summary>
    private UsageDetails? Increment(JsonElement usage, bool includeOutput)
    {
        long input = Read(usage, "input_tokens"u8, ref _input);
        long cacheRead = Read(usage, "cache_read_input_tokens"u8, ref _cacheRead);
        long cacheWrite = Read(usage, "cache_creation_input_tokens"u8, ref _cacheWrite);
        long output = includeOutput ? Read(usage, "output_tokens"u8, ref _output) : 0;
        long allInput = input + cacheRead + cacheWrite;
        if (allInput == 0 && output == 0 && !includeOutput)
        {
            return null;
        }

        var details = new UsageDetails { TotalTokenCount = allInput + output };
        if (allInput != 0)
        {
            details.InputTokenCount = allInput;
            details.CachedInputTokenCount = cacheRead;
            if (cacheWrite != 0)
            {
                details.AdditionalCounts = new() { [CanonicalKeys.CacheWriteTokens] = cacheWrite };
            }
        }

        if (includeOutput)
        {
            details.OutputTokenCount = output;
        }

        return details;

        static long Read(JsonElement usage, ReadOnlySpan<byte> name, ref long reported)
        {
            if (!usage.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long total))
            {
                return 0;
            }

            long increment = total - reported;
            reported = total;
            return increment;
        }
    }
}
