using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.OpenAI;

/// <summary>Decodes one upstream stream of <c>chat.completion.chunk</c> events into canonical updates.</summary>
/// <remarks>
/// <para>Each chunk with something to say becomes one update: text (<c>content</c>), reasoning (<c>reasoning_content</c> as
/// DeepSeek sends it, <c>reasoning</c> as OpenRouter, Groq and Ollama do), refusal text, tool call fragments, the finish reason
/// and usage (a <c>usage</c> chunk, or Groq's <c>x_groq.usage</c>). Chunks without <c>role</c> are normal; only
/// <c>choices[0]</c> is decoded.</para>
/// <para>Tool calls are renumbered: every distinct call gets its own <see cref="ToolCallDeltaContent.Index"/> in order of
/// arrival, and its id and name are emitted once, on its first fragment, even when a host repeats them or numbers all
/// parallel calls 0.</para>
/// </remarks>
internal sealed class OpenAIStreamDecoder : IStreamDecoder
{
    private readonly List<CallSlot> _calls = [];
    private readonly List<Fragment> _fragments = [];
    private string? _id;
    private string? _model;
    private long _createdSeconds = -1;
    private DateTimeOffset? _created;

    /// <inheritdoc />
    public bool Completed { get; private set; }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> eventType, ReadOnlySpan<byte> data, List<ChatResponseUpdate> updates)
    {
        ArgumentNullException.ThrowIfNull(updates);

        data = data.Trim(" \t\r\n"u8);
        if (data.IsEmpty || Completed)
        {
            return;
        }

        if (data.SequenceEqual("[DONE]"u8))
        {
            Completed = true;
            return;
        }

        try
        {
            if (eventType.SequenceEqual("error"u8))
            {
                var reader = new Utf8JsonReader(data);
                var root = JsonElement.ParseValue(ref reader);
                throw OpenAIDialect.ReadUpstreamError(root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var inner) ? inner : root);
            }

            DecodeChunk(data, updates);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            throw new DialectException(QlaudErrorKind.UpstreamError, "The upstream sent a stream event that is not a valid chat.completion.chunk.", ex);
        }
    }

    private void DecodeChunk(ReadOnlySpan<byte> data, List<ChatResponseUpdate> updates)
    {
        var reader = new Utf8JsonReader(data);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("A chunk must be a JSON object.");
        }

        List<AIContent>? contents = null;
        string? finishReason = null;
        UsageDetails? usage = null;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                _id = ReadCachedString(ref reader, _id);
            }
            else if (reader.ValueTextEquals("model"u8))
            {
                reader.Read();
                _model = ReadCachedString(ref reader, _model);
            }
            else if (reader.ValueTextEquals("created"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var seconds) && seconds != _createdSeconds)
                {
                    _createdSeconds = seconds;
                    _created = DateTimeOffset.FromUnixTimeSeconds(seconds);
                }
            }
            else if (reader.ValueTextEquals("choices"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        ReadChoice(ref reader, ref contents, ref finishReason);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else if (reader.ValueTextEquals("usage"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    usage = OpenAIDialect.ReadUsage(JsonElement.ParseValue(ref reader));
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    throw OpenAIDialect.ReadUpstreamError(JsonElement.ParseValue(ref reader));
                }

                reader.Skip();
            }
            else if (reader.ValueTextEquals("x_groq"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    var groq = JsonElement.ParseValue(ref reader);
                    if (usage is null && groq.TryGetProperty("usage", out var groqUsage) && groqUsage.ValueKind == JsonValueKind.Object)
                    {
                        usage = OpenAIDialect.ReadUsage(groqUsage);
                    }
                }
                else
                {
                    reader.Skip();
                }
            }
            else
            {
                reader.Skip();
            }
        }

        if (contents is null && finishReason is null && usage is null)
        {
            return;
        }

        var update = new ChatResponseUpdate(ChatRole.Assistant, contents ?? [])
        {
            ResponseId = _id,
            MessageId = _id,
            ModelId = _model,
            CreatedAt = _created,
        };

        if (finishReason is not null)
        {
            AdditionalPropertiesDictionary? properties = null;
            update.FinishReason = OpenAIDialect.ReadFinishReason(finishReason, ref properties);
            update.AdditionalProperties = properties;
        }

        if (usage is not null)
        {
            update.Contents.Add(new UsageContent(usage));
        }

        updates.Add(update);
    }

    private void ReadChoice(ref Utf8JsonReader reader, ref List<AIContent>? contents, ref string? finishReason)
    {
        var index = 0;
        string? choiceFinish = null;
        List<AIContent>? choiceContents = null;
        _fragments.Clear();

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("index"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number)
                {
                    index = reader.GetInt32();
                }
            }
            else if (reader.ValueTextEquals("delta"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadDelta(ref reader, ref choiceContents);
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("finish_reason"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    choiceFinish = reader.GetString();
                }
            }
            else
            {
                reader.Skip();
            }
        }

        // Further choices (n > 1) are not translated.
        if (index != 0)
        {
            return;
        }

        finishReason ??= choiceFinish;
        if (choiceContents is not null)
        {
            if (contents is null)
            {
                contents = choiceContents;
            }
            else
            {
                contents.AddRange(choiceContents);
            }
        }

        for (var i = 0; i < _fragments.Count; i++)
        {
            if (Resolve(_fragments[i]) is { } delta)
            {
                (contents ??= []).Add(delta);
            }
        }
    }

    private void ReadDelta(ref Utf8JsonReader reader, ref List<AIContent>? contents)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("content"u8))
            {
                reader.Read();
                if (ReadText(ref reader) is { } text)
                {
                    (contents ??= []).Add(new TextContent(text));
                }
            }
            else if (reader.ValueTextEquals("reasoning_content"u8) || reader.ValueTextEquals("reasoning"u8))
            {
                reader.Read();
                if (ReadText(ref reader) is { } text)
                {
                    (contents ??= []).Add(new TextReasoningContent(text));
                }
            }
            else if (reader.ValueTextEquals("refusal"u8))
            {
                reader.Read();
                if (ReadText(ref reader) is { } text)
                {
                    (contents ??= []).Add(new TextContent(text) { AdditionalProperties = new() { [OpenAIDialect.RefusalKey] = true } });
                }
            }
            else if (reader.ValueTextEquals("tool_calls"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    reader.Skip();
                    continue;
                }

                var position = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        ReadToolCall(ref reader, position++);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Skip();
            }
        }
    }

    private void ReadToolCall(ref Utf8JsonReader reader, int position)
    {
        var wireIndex = position;
        string? id = null;
        string? name = null;
        string? arguments = null;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("index"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number)
                {
                    wireIndex = reader.GetInt32();
                }
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                id = ReadText(ref reader);
            }
            else if (reader.ValueTextEquals("function"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("name"u8))
                    {
                        reader.Read();
                        name = ReadText(ref reader);
                    }
                    else if (reader.ValueTextEquals("arguments"u8))
                    {
                        reader.Read();
                        arguments = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Skip();
            }
        }

        _fragments.Add(new Fragment(wireIndex, id, name, arguments ?? ""));
    }

    private ToolCallDeltaContent? Resolve(Fragment fragment)
    {
        CallSlot? slot = null;
        for (var i = _calls.Count - 1; i >= 0; i--)
        {
            if (_calls[i].WireIndex == fragment.WireIndex)
            {
                slot = _calls[i];
                break;
            }
        }

        string? newId = null;
        string? newName = null;
        if (slot is null || (fragment.Id is not null && slot.Id is not null && !string.Equals(fragment.Id, slot.Id, StringComparison.Ordinal)))
        {
            slot = new CallSlot(fragment.WireIndex, _calls.Count);
            _calls.Add(slot);
        }

        if (slot.Id is null && fragment.Id is not null)
        {
            slot.Id = newId = fragment.Id;
        }

        if (!slot.HasName && fragment.Name is not null)
        {
            slot.HasName = true;
            newName = fragment.Name;
        }

        if (newId is null && newName is null && fragment.Arguments.Length == 0)
        {
            return null;
        }

        return new ToolCallDeltaContent
        {
            Index = slot.Index,
            CallId = newId,
            Name = newName,
            ArgumentsDelta = fragment.Arguments,
        };
    }

    private static string? ReadText(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.Skip();
            return null;
        }

        return reader.ValueSpan.Length == 0 ? null : reader.GetString();
    }

    private static string? ReadCachedString(ref Utf8JsonReader reader, string? cached)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.Skip();
            return cached;
        }

        // The id and model repeat in every chunk: compare instead of allocating a new string each time.
        return cached is not null && reader.ValueTextEquals(cached) ? cached : reader.GetString();
    }

    private readonly record struct Fragment(int WireIndex, string? Id, string? Name, string Arguments);

    private sealed class CallSlot(int wireIndex, int index)
    {
        public int WireIndex { get; } = wireIndex;

        public int Index { get; } = index;

        public string? Id { get; set; }

        public bool HasName { get; set; }
    }
}
