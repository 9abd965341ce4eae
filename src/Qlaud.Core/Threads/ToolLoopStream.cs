using System.Buffers;
using System.Text.Json;
using Qlaud.Dialects.Anthropic;
using Qlaud.Forwarding;
using Qlaud.Metering;

namespace Qlaud.Threads;

/// <summary>
/// Writes the answer of a server-side tool loop to the client as Anthropic stream events while the loop runs: one
/// <c>message_start</c> before the first content, the model's text deltas of every round trip, each tool call and result as
/// its own content block (indexes increase across round trips), and <c>message_delta</c>/<c>message_stop</c> (or an
/// <c>error</c> event) at the end. Every byte written is kept, so the reply can be persisted as the client saw it.
/// </summary>
internal sealed class ToolLoopStream(ResponseSink client, IReadOnlyList<KeyValuePair<string, string>> startHeaders, string model)
{
    private readonly ArrayBufferWriter<byte> _captured = new(4096);
    private readonly ArrayBufferWriter<byte> _event = new(1024);
    private int _index = -1;
    private bool _textOpen;

    /// <summary>Whether <c>message_start</c> was written (the client's response has started).</summary>
    public bool Started { get; private set; }

    /// <summary>Whether the stream was ended (by <c>message_stop</c> or an <c>error</c> event).</summary>
    public bool Ended { get; private set; }

    /// <summary>The id of the message; the first round trip's response id when it has one.</summary>
    public string? MessageId { get; set; }

    /// <summary>Every event written so far.</summary>
    public ReadOnlyMemory<byte> Captured => _captured.WrittenMemory;

    /// <summary>Relays a text delta of the model, opening a text block when none is open.</summary>
    public async ValueTask TextAsync(string text, CancellationToken cancellationToken)
    {
        if (text.Length == 0)
        {
            return;
        }

        await StartAsync(cancellationToken).ConfigureAwait(false);
        if (!_textOpen)
        {
            _textOpen = true;
            _index++;
            Event("content_block_start", w =>
            {
                w.WriteNumber("index", _index);
                w.WriteStartObject("content_block");
                w.WriteString("type", "text");
                w.WriteString("text", "");
                w.WriteEndObject();
            });
        }

        Event("content_block_delta", w =>
        {
            w.WriteNumber("index", _index);
            w.WriteStartObject("delta");
            w.WriteString("type", "text_delta");
            w.WriteString("text", text);
            w.WriteEndObject();
        });
        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes one whole block (<c>mcp_tool_use</c>, <c>mcp_tool_result</c>): <c>content_block_start</c> carrying the
    /// block, then <c>content_block_stop</c>. A client <c>tool_use</c> block starts with an empty input that one
    /// <c>input_json_delta</c> fills, as Anthropic streams it.</summary>
    public async ValueTask BlockAsync(JsonElement block, CancellationToken cancellationToken)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        CloseText();
        _index++;
        bool toolUse = block.TryGetProperty("type", out var type) && type.ValueEquals("tool_use");
        Event("content_block_start", w =>
        {
            w.WriteNumber("index", _index);
            if (!toolUse)
            {
                w.WritePropertyName("content_block");
                block.WriteTo(w);
                return;
            }

            w.WriteStartObject("content_block");
            foreach (var property in block.EnumerateObject())
            {
                if (property.NameEquals("input"))
                {
                    w.WriteStartObject("input");
                    w.WriteEndObject();
                }
                else
                {
                    property.WriteTo(w);
                }
            }

            w.WriteEndObject();
        });
        if (toolUse && block.TryGetProperty("input", out var input))
        {
            Event("content_block_delta", w =>
            {
                w.WriteNumber("index", _index);
                w.WriteStartObject("delta");
                w.WriteString("type", "input_json_delta");
                w.WriteString("partial_json", input.GetRawText());
                w.WriteEndObject();
            });
        }

        Event("content_block_stop", w => w.WriteNumber("index", _index));
        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends the message: <c>message_delta</c> with the stop reason and the usage of every round trip, then <c>message_stop</c>.</summary>
    public async ValueTask EndAsync(string stopReason, TokenUsage usage, CancellationToken cancellationToken)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        CloseText();
        Event("message_delta", w =>
        {
            w.WriteStartObject("delta");
            w.WriteString("stop_reason", stopReason);
            w.WriteNull("stop_sequence");
            w.WriteEndObject();
            w.WriteStartObject("usage");
            w.WriteNumber("input_tokens", usage.Input - usage.CacheRead - usage.CacheWrite);
            w.WriteNumber("cache_creation_input_tokens", usage.CacheWrite);
            w.WriteNumber("cache_read_input_tokens", usage.CacheRead);
            w.WriteNumber("output_tokens", usage.Output);
            w.WriteEndObject();
        });
        Event("message_stop", static _ => { });
        Ended = true;
        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends a started stream with an Anthropic <c>error</c> event (a block left open is closed first).</summary>
    public async ValueTask FailAsync(QlaudError error, CancellationToken cancellationToken)
    {
        CloseText();
        Write("error", w =>
        {
            w.Flush();
            AnthropicDialect.WriteErrorObject(w, error);
        }, envelope: false);
        Ended = true;
        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The reply as the events written make it up (what the client saw), less any <c>mcp_tool_use</c> block without its
    /// <c>mcp_tool_result</c> (a call never run, or cut off): a later turn sends the history back, and a call must have its result.</summary>
    public CapturedReply Reply()
    {
        var reply = CapturedReply.FromStream(_captured.WrittenSpan) with { MessageId = MessageId, Model = model };
        var blocks = System.Text.Json.Nodes.JsonNode.Parse(reply.ContentJson)!.AsArray();
        var answered = blocks.Where(static b => (string?)b?["type"] == "mcp_tool_result").Select(static b => (string?)b!["tool_use_id"]).ToHashSet(StringComparer.Ordinal);
        var unanswered = blocks.Where(b => (string?)b?["type"] == "mcp_tool_use" && !answered.Contains((string?)b!["id"])).ToList();
        foreach (var block in unanswered)
        {
            blocks.Remove(block);
        }

        return unanswered.Count == 0 ? reply : reply with { ContentJson = blocks.ToJsonString() };
    }

    private async ValueTask StartAsync(CancellationToken cancellationToken)
    {
        if (Started)
        {
            return;
        }

        Started = true;
        MessageId ??= "msg_" + Guid.NewGuid().ToString("N");
        foreach (var (name, value) in startHeaders)
        {
            client.SetHeader(name, value);
        }

        client.Start(200, "text/event-stream");
        Event("message_start", w =>
        {
            w.WriteStartObject("message");
            w.WriteString("id", MessageId);
            w.WriteString("type", "message");
            w.WriteString("role", "assistant");
            w.WriteString("model", model);
            w.WriteStartArray("content");
            w.WriteEndArray();
            w.WriteNull("stop_reason");
            w.WriteNull("stop_sequence");
            w.WriteStartObject("usage");
            w.WriteNumber("input_tokens", 0);
            w.WriteNumber("output_tokens", 0);
            w.WriteEndObject();
            w.WriteEndObject();
        });
        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private void CloseText()
    {
        if (_textOpen)
        {
            _textOpen = false;
            Event("content_block_stop", w => w.WriteNumber("index", _index));
        }
    }

    private void Event(string name, Action<Utf8JsonWriter> body) => Write(name, body, envelope: true);

    private void Write(string name, Action<Utf8JsonWriter> body, bool envelope)
    {
        _event.ResetWrittenCount();
        _event.Write("event: "u8);
        _event.Write(System.Text.Encoding.UTF8.GetBytes(name));
        _event.Write("\ndata: "u8);
        using (var writer = new Utf8JsonWriter(_event))
        {
            if (envelope)
            {
                writer.WriteStartObject();
                writer.WriteString("type", name);
                body(writer);
                writer.WriteEndObject();
            }
            else
            {
                body(writer);
            }
        }

        _event.Write("\n\n"u8);
        _captured.Write(_event.WrittenSpan);
        client.Writer.Write(_event.WrittenSpan);
    }

    private async ValueTask FlushAsync(CancellationToken cancellationToken)
        => await client.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
}
