using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects.Anthropic;

/// <summary>
/// Encodes canonical updates (typically decoded from an OpenAI-compatible upstream) as one well-formed Anthropic Messages
/// event stream, so an Anthropic client such as Claude Code works unchanged against any model.
/// </summary>
/// <remarks>
/// <para>Event order, as Anthropic documents it: <c>message_start</c> (empty content; the input usage when already known, else
/// the estimate the encoder was created with, since OpenAI upstreams report usage only at the end);
/// then one block after another, each <c>content_block_start</c> → deltas → <c>content_block_stop</c> with indexes 0, 1, 2, …;
/// finally, in <see cref="Complete"/>, one <c>message_delta</c> with <c>stop_reason</c>, <c>stop_sequence</c> and the usage
/// (which OpenAI upstreams send last, after the finish reason): the exact <c>input_tokens</c>, <c>cache_creation_input_tokens</c>,
/// <c>cache_read_input_tokens</c> and <c>output_tokens</c>, as Anthropic's own <c>message_delta</c> carries them; then
/// <c>message_stop</c>.</para>
/// <para>Blocks: reasoning text → <c>thinking</c> (<c>thinking_delta</c>; a signature arriving in
/// <see cref="TextReasoningContent.ProtectedData"/> → <c>signature_delta</c>, after which more reasoning opens a new thinking
/// block); redacted reasoning → <c>redacted_thinking</c>; text → <c>text</c> (<c>text_delta</c>); each tool call index → its
/// own <c>tool_use</c> block (<c>{type, id, name, input:{}}</c>, then <c>input_json_delta</c>). A block closes when the
/// content kind changes or a new tool call starts, so reasoning, text and parallel tool calls never merge. Upstreams that
/// interleave the argument fragments of parallel calls are serialized: while the open call's arguments are not yet a
/// complete JSON value, fragments of later calls are held back and written, in order, once it is complete (or before any
/// other content, or at the end).</para>
/// <para>With a <see cref="ThinkingSigner"/> (a translated stream), every thinking block is signed by Qlaud: its text deltas
/// feed the signature, which goes out as the block's <c>signature_delta</c> just before its <c>content_block_stop</c>;
/// signatures from the upstream are not relayed.</para>
/// <para>One <see cref="Utf8JsonWriter"/> is reused for every event; it writes straight into the caller's buffer.</para>
/// </remarks>
internal sealed class AnthropicStreamEncoder : IStreamEncoder
{
    private enum BlockKind
    {
        None,
        Text,
        Thinking,
        ToolUse,

        /// <summary>A block complete at its start (redacted thinking, raw server tool blocks).</summary>
        Opaque,
    }

    private readonly string _model;
    private readonly string _messageId;
    private readonly long _estimatedInputTokens;
    private readonly ThinkingSigner? _signer;
    private ThinkingSigner.Incremental? _signing;
    private Utf8JsonWriter? _writer;
    private bool _started;
    private bool _finished;

    private BlockKind _open;
    private int _openIndex = -1;
    private int _nextIndex;
    private bool _thinkingSigned;
    private int _openToolIndex = -1;
    private Dictionary<int, int>? _toolBlocks;
    private List<PendingTool>? _pending;
    private JsonCompleteness _openToolJson;
    private bool _hadToolCalls;

    private UsageDetails? _usage;
    private ChatFinishReason? _finishReason;
    private object? _rawFinishReason;
    private object? _stopSequence;

    /// <summary>Creates the encoder for one stream that reports <paramref name="model"/>.</summary>
    /// <param name="model">The model named in <c>message_start</c>.</param>
    /// <param name="responseId">The message id (prefixed with <c>msg_</c> when it is not already).</param>
    /// <param name="estimatedInputTokens">The <c>input_tokens</c> of <c>message_start</c> when no usage arrived before it.</param>
    /// <param name="signer">Signs the thinking blocks (translated streams); null relays the upstream's signatures.</param>
    public AnthropicStreamEncoder(string model, string responseId, long estimatedInputTokens = 0, ThinkingSigner? signer = null)
    {
        _model = model;
        _messageId = AnthropicDialect.MessageId(responseId);
        _estimatedInputTokens = estimatedInputTokens;
        _signer = signer;
    }

    /// <inheritdoc />
    public void Encode(ChatResponseUpdate update, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(output);
        if (_finished)
        {
            return;
        }

        var contents = update.Contents;
        for (int i = 0; i < contents.Count; i++)
        {
            if (contents[i] is UsageContent usage)
            {
                (_usage ??= new UsageDetails()).Add(usage.Details);
            }
        }

        if (!_started)
        {
            WriteMessageStart(output);
        }

        for (int i = 0; i < contents.Count; i++)
        {
            if (_pending is { Count: > 0 } && contents[i] is TextContent { Text.Length: > 0 } or TextReasoningContent or FunctionCallContent or AnthropicRawContent)
            {
                FlushPending(output, all: true);
            }

            switch (contents[i])
            {
                case TextContent text:
                    WriteText(output, text.Text);
                    break;
                case TextReasoningContent reasoning:
                    WriteReasoning(output, reasoning);
                    break;
                case ToolCallDeltaContent delta:
                    WriteToolDelta(output, delta);
                    break;
                case FunctionCallContent call:
                    WriteWholeToolCall(output, call);
                    break;
                case AnthropicRawContent raw:
                    CloseBlock(output);
                    StartBlock(output, BlockKind.Opaque, raw);
                    CloseBlock(output);
                    break;
            }
        }

        if (update.FinishReason is { } reason)
        {
            _finishReason = reason;
        }

        if (update.AdditionalProperties is { } properties)
        {
            if (properties.TryGetValue(CanonicalKeys.RawFinishReason, out var raw) && raw is not null)
            {
                _rawFinishReason = raw;
            }

            if (properties.TryGetValue(AnthropicDialect.Key("stop_sequence"), out var sequence) && sequence is not null)
            {
                _stopSequence = sequence;
            }
        }
    }

    /// <inheritdoc />
    public void Complete(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (_finished)
        {
            return;
        }

        if (!_started)
        {
            WriteMessageStart(output);
        }

        FlushPending(output, all: true);
        CloseBlock(output);

        var writer = BeginEvent(output, "message_delta"u8);
        writer.WriteStartObject();
        writer.WriteString("type"u8, "message_delta"u8);
        writer.WritePropertyName("delta"u8);
        writer.WriteStartObject();
        writer.WriteString("stop_reason"u8, AnthropicDialect.StopReasonFor(_finishReason, _rawFinishReason, _hadToolCalls));
        writer.WritePropertyName("stop_sequence"u8);
        AnthropicDialect.WriteValue(writer, _stopSequence);
        writer.WriteEndObject();
        writer.WritePropertyName("usage"u8);
        writer.WriteStartObject();
        if (_usage?.InputTokenCount is not null)
        {
            var (input, cacheRead, cacheWrite) = AnthropicDialect.SplitInput(_usage);
            writer.WriteNumber("input_tokens"u8, input);
            writer.WriteNumber("cache_creation_input_tokens"u8, cacheWrite);
            writer.WriteNumber("cache_read_input_tokens"u8, cacheRead);
        }

        writer.WriteNumber("output_tokens"u8, _usage?.OutputTokenCount ?? 0);
        writer.WriteEndObject();
        writer.WriteEndObject();
        EndEvent(output);

        writer = BeginEvent(output, "message_stop"u8);
        writer.WriteStartObject();
        writer.WriteString("type"u8, "message_stop"u8);
        writer.WriteEndObject();
        EndEvent(output);
        _finished = true;
        _signing?.Dispose();
    }

    /// <inheritdoc />
    public void Fail(QlaudError error, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(output);
        if (_finished)
        {
            return;
        }

        var writer = BeginEvent(output, "error"u8);
        AnthropicDialect.WriteErrorObject(writer, error);
        EndEvent(output);
        _finished = true;
        _signing?.Dispose();
    }

    private Utf8JsonWriter BeginEvent(IBufferWriter<byte> output, ReadOnlySpan<byte> name)
    {
        AnthropicDialect.WriteRaw(output, "event: "u8);
        AnthropicDialect.WriteRaw(output, name);
        AnthropicDialect.WriteRaw(output, "\ndata: "u8);
        if (_writer is null)
        {
            _writer = new Utf8JsonWriter(output, AnthropicDialect.StreamWriterOptions);
        }
        else
        {
            _writer.Reset(output);
        }

        return _writer;
    }

    private void EndEvent(IBufferWriter<byte> output)
    {
        _writer!.Flush();
        AnthropicDialect.WriteRaw(output, "\n\n"u8);
    }

    private void WriteMessageStart(IBufferWriter<byte> output)
    {
        _started = true;
        var (input, cacheRead, cacheWrite) = _usage?.InputTokenCount is null ? (_estimatedInputTokens, 0, 0) : AnthropicDialect.SplitInput(_usage);
        var writer = BeginEvent(output, "message_start"u8);
        writer.WriteStartObject();
        writer.WriteString("type"u8, "message_start"u8);
        writer.WritePropertyName("message"u8);
        writer.WriteStartObject();
        writer.WriteString("id"u8, _messageId);
        writer.WriteString("type"u8, "message"u8);
        writer.WriteString("role"u8, "assistant"u8);
        writer.WriteString("model"u8, _model);
        writer.WritePropertyName("content"u8);
        writer.WriteStartArray();
        writer.WriteEndArray();
        writer.WriteNull("stop_reason"u8);
        writer.WriteNull("stop_sequence"u8);
        writer.WritePropertyName("usage"u8);
        writer.WriteStartObject();
        writer.WriteNumber("input_tokens"u8, input);
        writer.WriteNumber("cache_creation_input_tokens"u8, cacheWrite);
        writer.WriteNumber("cache_read_input_tokens"u8, cacheRead);
        writer.WriteNumber("output_tokens"u8, 0);
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
        EndEvent(output);
    }

    /// <summary>Opens a block of <paramref name="kind"/>; <paramref name="body"/> is the <c>content_block</c> (a string is a
    /// tool call id, with the name in <paramref name="name"/>; a raw content is written as is).</summary>
    private void StartBlock(IBufferWriter<byte> output, BlockKind kind, object? body = null, string? name = null)
    {
        int index = _nextIndex++;
        var writer = BeginEvent(output, "content_block_start"u8);
        writer.WriteStartObject();
        writer.WriteString("type"u8, "content_block_start"u8);
        writer.WriteNumber("index"u8, index);
        writer.WritePropertyName("content_block"u8);
        switch (kind)
        {
            case BlockKind.Text:
                writer.WriteStartObject();
                writer.WriteString("type"u8, "text"u8);
                writer.WriteString("text"u8, ""u8);
                writer.WriteEndObject();
                break;
            case BlockKind.Thinking:
                writer.WriteStartObject();
                writer.WriteString("type"u8, "thinking"u8);
                writer.WriteString("thinking"u8, ""u8);
                writer.WriteString("signature"u8, ""u8);
                writer.WriteEndObject();
                break;
            case BlockKind.ToolUse:
                writer.WriteStartObject();
                writer.WriteString("type"u8, "tool_use"u8);
                writer.WriteString("id"u8, (string)body!);
                writer.WriteString("name"u8, name ?? "");
                writer.WritePropertyName("input"u8);
                writer.WriteStartObject();
                writer.WriteEndObject();
                AnthropicDialect.WriteDirectCaller(writer);
                writer.WriteEndObject();
                break;
            default:
                switch (body)
                {
                    case AnthropicRawContent raw:
                        raw.Block.WriteTo(writer);
                        break;
                    case TextReasoningContent redacted:
                        writer.WriteStartObject();
                        writer.WriteString("type"u8, "redacted_thinking"u8);
                        writer.WriteString("data"u8, redacted.ProtectedData);
                        writer.WriteEndObject();
                        break;
                }

                break;
        }

        writer.WriteEndObject();
        EndEvent(output);
        _open = kind;
        _openIndex = index;
    }

    private void CloseBlock(IBufferWriter<byte> output)
    {
        if (_open == BlockKind.None)
        {
            return;
        }

        if (_open == BlockKind.Thinking && _signer is not null && !_thinkingSigned)
        {
            WriteDelta(output, _openIndex, "signature_delta"u8, "signature"u8, _signing?.Finish() ?? _signer.Sign(""));
            _thinkingSigned = true;
        }

        var writer = BeginEvent(output, "content_block_stop"u8);
        writer.WriteStartObject();
        writer.WriteString("type"u8, "content_block_stop"u8);
        writer.WriteNumber("index"u8, _openIndex);
        writer.WriteEndObject();
        EndEvent(output);
        _open = BlockKind.None;
        _openToolIndex = -1;
    }

    private void WriteDelta(IBufferWriter<byte> output, int index, ReadOnlySpan<byte> deltaType, ReadOnlySpan<byte> field, string value)
    {
        var writer = BeginEvent(output, "content_block_delta"u8);
        writer.WriteStartObject();
        writer.WriteString("type"u8, "content_block_delta"u8);
        writer.WriteNumber("index"u8, index);
        writer.WritePropertyName("delta"u8);
        writer.WriteStartObject();
        writer.WriteString("type"u8, deltaType);
        writer.WriteString(field, value);
        writer.WriteEndObject();
        writer.WriteEndObject();
        EndEvent(output);
    }

    private void WriteText(IBufferWriter<byte> output, string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        if (_open != BlockKind.Text)
        {
            CloseBlock(output);
            StartBlock(output, BlockKind.Text);
        }

        WriteDelta(output, _openIndex, "text_delta"u8, "text"u8, text);
    }

    private void WriteReasoning(IBufferWriter<byte> output, TextReasoningContent reasoning)
    {
        if (reasoning.AdditionalProperties is { } props && props.TryGetValue(CanonicalKeys.Redacted, out var redacted) && AnthropicDialect.IsTrue(redacted))
        {
            if (!string.IsNullOrEmpty(reasoning.ProtectedData))
            {
                CloseBlock(output);
                StartBlock(output, BlockKind.Opaque, reasoning);
                CloseBlock(output);
            }

            return;
        }

        if (!string.IsNullOrEmpty(reasoning.Text))
        {
            OpenThinking(output);
            WriteDelta(output, _openIndex, "thinking_delta"u8, "thinking"u8, reasoning.Text);
            if (_signer is not null)
            {
                (_signing ??= _signer.BeginIncremental()).Append(reasoning.Text);
            }
        }

        if (_signer is null && !string.IsNullOrEmpty(reasoning.ProtectedData))
        {
            OpenThinking(output);
            WriteDelta(output, _openIndex, "signature_delta"u8, "signature"u8, reasoning.ProtectedData);
            _thinkingSigned = true;
        }
    }

    private void OpenThinking(IBufferWriter<byte> output)
    {
        if (_open == BlockKind.Thinking && !_thinkingSigned)
        {
            return;
        }

        CloseBlock(output);
        StartBlock(output, BlockKind.Thinking);
        _thinkingSigned = false;
    }

    private void WriteToolDelta(IBufferWriter<byte> output, ToolCallDeltaContent delta)
    {
        _hadToolCalls = true;
        if (_open == BlockKind.ToolUse && _openToolIndex == delta.Index)
        {
            WriteArguments(output, _openIndex, delta.ArgumentsDelta);
        }
        else if (FindPending(delta.Index) is { } pending)
        {
            pending.Arguments.Append(delta.ArgumentsDelta);
        }
        else if (_toolBlocks is not null && _toolBlocks.TryGetValue(delta.Index, out int earlier))
        {
            // A fragment for a call whose arguments were already complete: never valid JSON, but not silently dropped.
            WriteArguments(output, earlier, delta.ArgumentsDelta);
        }
        else if (_open == BlockKind.ToolUse && !_openToolJson.IsComplete)
        {
            // The open call is still streaming its arguments: hold the new call back until it is complete.
            var held = new PendingTool(delta.Index, delta.CallId, delta.Name);
            held.Arguments.Append(delta.ArgumentsDelta);
            (_pending ??= []).Add(held);
        }
        else
        {
            StartToolUse(output, delta.Index, delta.CallId, delta.Name);
            WriteArguments(output, _openIndex, delta.ArgumentsDelta);
        }

        if (_pending is { Count: > 0 } && _open == BlockKind.ToolUse && _openToolJson.IsComplete)
        {
            FlushPending(output, all: false);
        }
    }

    private void StartToolUse(IBufferWriter<byte> output, int toolIndex, string? callId, string? name)
    {
        CloseBlock(output);
        StartBlock(output, BlockKind.ToolUse, string.IsNullOrEmpty(callId) ? NewToolUseId() : callId, name);
        (_toolBlocks ??= [])[toolIndex] = _openIndex;
        _openToolIndex = toolIndex;
        _openToolJson = default;
    }

    private void WriteArguments(IBufferWriter<byte> output, int blockIndex, string fragment)
    {
        if (string.IsNullOrEmpty(fragment))
        {
            return;
        }

        if (blockIndex == _openIndex)
        {
            _openToolJson.Scan(fragment);
        }

        WriteDelta(output, blockIndex, "input_json_delta"u8, "partial_json"u8, fragment);
    }

    /// <summary>Writes held-back calls in order: all of them, or until one is still incomplete.</summary>
    private void FlushPending(IBufferWriter<byte> output, bool all)
    {
        while (_pending is { Count: > 0 })
        {
            var next = _pending[0];
            _pending.RemoveAt(0);
            StartToolUse(output, next.Index, next.CallId, next.Name);
            WriteArguments(output, _openIndex, next.Arguments.ToString());
            if (!all && !_openToolJson.IsComplete)
            {
                return;
            }
        }
    }

    private PendingTool? FindPending(int index)
    {
        if (_pending is null)
        {
            return null;
        }

        for (int i = 0; i < _pending.Count; i++)
        {
            if (_pending[i].Index == index)
            {
                return _pending[i];
            }
        }

        return null;
    }

    /// <summary>A tool call held back while another call's arguments are still streaming.</summary>
    private sealed class PendingTool(int index, string? callId, string? name)
    {
        public int Index { get; } = index;

        public string? CallId { get; } = callId;

        public string? Name { get; } = name;

        public System.Text.StringBuilder Arguments { get; } = new();
    }

    /// <summary>Tracks whether the JSON text seen so far is one complete value (brackets balanced, outside strings).</summary>
    private struct JsonCompleteness
    {
        private int _depth;
        private bool _started;
        private bool _inString;
        private bool _escaped;

        public readonly bool IsComplete => _started && _depth == 0 && !_inString;

        public void Scan(string fragment)
        {
            foreach (char c in fragment)
            {
                if (_inString)
                {
                    if (_escaped)
                    {
                        _escaped = false;
                    }
                    else if (c == '\\')
                    {
                        _escaped = true;
                    }
                    else if (c == '"')
                    {
                        _inString = false;
                    }
                }
                else if (c is '{' or '[')
                {
                    _depth++;
                    _started = true;
                }
                else if (c is '}' or ']')
                {
                    _depth--;
                }
                else if (c == '"')
                {
                    _inString = true;
                }
            }
        }
    }

    private void WriteWholeToolCall(IBufferWriter<byte> output, FunctionCallContent call)
    {
        _hadToolCalls = true;
        CloseBlock(output);
        StartBlock(output, BlockKind.ToolUse, string.IsNullOrEmpty(call.CallId) ? NewToolUseId() : call.CallId, call.Name);
        if (call.Arguments is { Count: > 0 } arguments)
        {
            var buffer = new ArrayBufferWriter<byte>();
            using (var json = new Utf8JsonWriter(buffer, AnthropicDialect.StreamWriterOptions))
            {
                json.WriteStartObject();
                foreach (var (name, value) in arguments)
                {
                    json.WritePropertyName(name);
                    AnthropicDialect.WriteValue(json, value);
                }

                json.WriteEndObject();
            }

            WriteDelta(output, _openIndex, "input_json_delta"u8, "partial_json"u8, System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
        }

        CloseBlock(output);
    }

    private static string NewToolUseId() => "toolu_" + Guid.NewGuid().ToString("N");
}
