using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.OpenAI;

/// <summary>Encodes canonical updates as the <c>chat.completion.chunk</c> events of one client stream.</summary>
/// <remarks>
/// <para>Every chunk carries the same id, <c>created</c> (the first update's timestamp, else the clock's) and model. The first
/// delta carries <c>role: "assistant"</c>. Text, reasoning (as <c>reasoning_content</c>), refusal and tool call fragments of
/// one update go into one chunk; the finish reason into a chunk of its own with an empty delta, once. A tool call's first
/// fragment has <c>index</c>, <c>id</c>, <c>type</c> and <c>function.name</c>, later ones only <c>function.arguments</c>;
/// whole <see cref="FunctionCallContent"/> items are written as one complete fragment.</para>
/// <para>Usage increments are summed and, when the encoder was created with <c>includeUsage</c>, written by <see cref="Complete"/> as a
/// chunk with empty <c>choices</c> just before <c>[DONE]</c>, where OpenAI puts it. After <see cref="Complete"/> or
/// <see cref="Fail"/> nothing more is written. One <see cref="Utf8JsonWriter"/> is reused for the whole stream.</para>
/// </remarks>
internal sealed class OpenAIStreamEncoder : IStreamEncoder
{
    // JSON over HTTP, not HTML: no need to escape non-ASCII text or HTML-sensitive characters.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly string _model;
    private readonly string _id;
    private readonly bool _includeUsage;
    private readonly TimeProvider _timeProvider;
    private Utf8JsonWriter? _writer;
    private long _created = -1;
    private bool _roleSent;
    private bool _finishSent;
    private bool _ended;
    private int _nextToolIndex;
    private UsageDetails? _usage;

    /// <summary>Creates the encoder; see <see cref="OpenAIDialect.CreateStreamEncoder(string, string, bool)"/>.</summary>
    public OpenAIStreamEncoder(string model, string responseId, bool includeUsage, TimeProvider timeProvider)
    {
        _model = model;
        _id = responseId;
        _includeUsage = includeUsage;
        _timeProvider = timeProvider;
    }

    /// <inheritdoc />
    public void Encode(ChatResponseUpdate update, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(output);
        if (_ended)
        {
            return;
        }

        if (_created < 0)
        {
            _created = (update.CreatedAt ?? _timeProvider.GetUtcNow()).ToUnixTimeSeconds();
        }

        var contents = update.Contents;
        var text = 0;
        var refusal = 0;
        var reasoning = 0;
        var calls = 0;
        for (var i = 0; i < contents.Count; i++)
        {
            switch (contents[i])
            {
                case TextContent content when content.Text.Length > 0:
                    if (IsRefusal(content))
                    {
                        refusal++;
                    }
                    else
                    {
                        text++;
                    }

                    break;
                case TextReasoningContent content when content.Text.Length > 0:
                    reasoning++;
                    break;
                case ToolCallDeltaContent or FunctionCallContent:
                    calls++;
                    break;
                case UsageContent usage:
                    MergeUsage(usage.Details);
                    break;
            }
        }

        if (text + refusal + reasoning + calls > 0)
        {
            var writer = BeginChoice(output);
            if (reasoning > 0)
            {
                WriteJoined(writer, OpenAIDialect.ReasoningContentField, contents, Kind.Reasoning, reasoning);
            }

            if (text > 0)
            {
                WriteJoined(writer, "content", contents, Kind.Text, text);
            }

            if (refusal > 0)
            {
                WriteJoined(writer, "refusal", contents, Kind.Refusal, refusal);
            }

            if (calls > 0)
            {
                WriteToolCalls(writer, contents);
            }

            EndChoice(output, finishReason: null);
        }

        if (update.FinishReason is { } finishReason && !_finishSent)
        {
            _finishSent = true;
            BeginChoice(output);
            EndChoice(output, OpenAIDialect.FromFinishReason(finishReason));
        }
    }

    /// <inheritdoc />
    public void Complete(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (_ended)
        {
            return;
        }

        _ended = true;
        if (_includeUsage && _usage is not null)
        {
            if (_created < 0)
            {
                _created = _timeProvider.GetUtcNow().ToUnixTimeSeconds();
            }

            var writer = BeginChunk(output);
            writer.WriteStartArray("choices");
            writer.WriteEndArray();
            writer.WritePropertyName("usage");
            OpenAIDialect.WriteUsage(writer, _usage);
            EndChunk(output);
        }

        output.Write("data: [DONE]\n\n"u8);
    }

    /// <inheritdoc />
    public void Fail(QlaudError error, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(output);
        if (_ended)
        {
            return;
        }

        _ended = true;
        output.Write("data: "u8);
        var writer = WriterFor(output);
        OpenAIDialect.WriteErrorBody(writer, error);
        writer.Flush();
        output.Write("\n\n"u8);
    }

    private Utf8JsonWriter WriterFor(IBufferWriter<byte> output)
    {
        if (_writer is null)
        {
            _writer = new Utf8JsonWriter(output, WriterOptions);
        }
        else
        {
            _writer.Reset(output);
        }

        return _writer;
    }

    private Utf8JsonWriter BeginChunk(IBufferWriter<byte> output)
    {
        output.Write("data: "u8);
        var writer = WriterFor(output);
        writer.WriteStartObject();
        writer.WriteString("id", _id);
        writer.WriteString("object", "chat.completion.chunk");
        writer.WriteNumber("created", _created);
        writer.WriteString("model", _model);
        return writer;
    }

    private void EndChunk(IBufferWriter<byte> output)
    {
        var writer = _writer!;
        writer.WriteEndObject();
        writer.Flush();
        output.Write("\n\n"u8);
    }

    private Utf8JsonWriter BeginChoice(IBufferWriter<byte> output)
    {
        var writer = BeginChunk(output);
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", 0);
        writer.WriteStartObject("delta");
        if (!_roleSent)
        {
            _roleSent = true;
            writer.WriteString("role", "assistant");
        }

        return writer;
    }

    private void EndChoice(IBufferWriter<byte> output, string? finishReason)
    {
        var writer = _writer!;
        writer.WriteEndObject();
        writer.WriteNull("logprobs");
        if (finishReason is null)
        {
            writer.WriteNull("finish_reason");
        }
        else
        {
            writer.WriteString("finish_reason", finishReason);
        }

        writer.WriteEndObject();
        writer.WriteEndArray();
        EndChunk(output);
    }

    private static void WriteJoined(Utf8JsonWriter writer, string name, IList<AIContent> contents, Kind kind, int count)
    {
        if (count == 1)
        {
            for (var i = 0; i < contents.Count; i++)
            {
                if (TextOf(contents[i], kind) is { Length: > 0 } single)
                {
                    writer.WriteString(name, single);
                    return;
                }
            }
        }

        var joined = new StringBuilder();
        for (var i = 0; i < contents.Count; i++)
        {
            joined.Append(TextOf(contents[i], kind));
        }

        writer.WriteString(name, joined.ToString());
    }

    private static string? TextOf(AIContent content, Kind kind) => content switch
    {
        TextReasoningContent reasoning when kind == Kind.Reasoning => reasoning.Text,
        TextContent text when kind == Kind.Refusal && IsRefusal(text) => text.Text,
        TextContent text when kind == Kind.Text && !IsRefusal(text) => text.Text,
        _ => null,
    };

    private void WriteToolCalls(Utf8JsonWriter writer, IList<AIContent> contents)
    {
        writer.WriteStartArray("tool_calls");
        for (var i = 0; i < contents.Count; i++)
        {
            switch (contents[i])
            {
                case ToolCallDeltaContent delta:
                    _nextToolIndex = Math.Max(_nextToolIndex, delta.Index + 1);
                    writer.WriteStartObject();
                    writer.WriteNumber("index", delta.Index);
                    if (delta.CallId is not null || delta.Name is not null)
                    {
                        if (delta.CallId is not null)
                        {
                            writer.WriteString("id", delta.CallId);
                        }

                        writer.WriteString("type", "function");
                        writer.WriteStartObject("function");
                        if (delta.Name is not null)
                        {
                            writer.WriteString("name", delta.Name);
                        }
                    }
                    else
                    {
                        writer.WriteStartObject("function");
                    }

                    writer.WriteString("arguments", delta.ArgumentsDelta);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                    break;
                case FunctionCallContent call:
                    writer.WriteStartObject();
                    writer.WriteNumber("index", _nextToolIndex++);
                    writer.WriteString("id", call.CallId);
                    writer.WriteString("type", "function");
                    writer.WriteStartObject("function");
                    writer.WriteString("name", call.Name);
                    writer.WriteString("arguments", CanonicalJson.GetArgumentsText(call));
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                    break;
            }
        }

        writer.WriteEndArray();
    }

    private void MergeUsage(UsageDetails details)
    {
        // Stream decoders report usage in increments that add up to the total (Anthropic: the input counts at message_start,
        // the output at message_delta), as Microsoft.Extensions.AI's ToChatResponse sums them.
        (_usage ??= new UsageDetails()).Add(details);
    }

    private static bool IsRefusal(TextContent text) =>
        text.AdditionalProperties?.TryGetValue(OpenAIDialect.RefusalKey, out var value) is true && value is true;

    private enum Kind
    {
        Text,
        Refusal,
        Reasoning,
    }
}
