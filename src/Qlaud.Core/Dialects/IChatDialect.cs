using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Qlaud.Dialects;

/// <summary>
/// A wire dialect (OpenAI Chat Completions, Anthropic Messages, …): converts requests, responses and stream events
/// between the wire JSON and the canonical Microsoft.Extensions.AI model, in both directions.
/// </summary>
internal interface IChatDialect
{
    /// <summary>The dialect name used in configuration: <c>openai</c>, <c>anthropic</c>.</summary>
    string Name { get; }

    /// <summary>Decodes a wire request body. Throws <see cref="DialectException"/> on malformed input.</summary>
    CanonicalChatRequest ReadRequest(ReadOnlySpan<byte> utf8Json);

    /// <summary>Encodes a canonical request for an upstream of this dialect, with <paramref name="upstreamModel"/> as the model.</summary>
    void WriteRequest(Utf8JsonWriter writer, CanonicalChatRequest request, string upstreamModel);

    /// <summary>Decodes a non-streamed wire response body.</summary>
    ChatResponse ReadResponse(ReadOnlySpan<byte> utf8Json);

    /// <summary>Encodes a canonical response in this dialect's wire shape, reporting <paramref name="model"/> as the model.</summary>
    void WriteResponse(Utf8JsonWriter writer, ChatResponse response, string model);

    /// <summary>A new stateful decoder for one upstream stream of this dialect.</summary>
    IStreamDecoder CreateStreamDecoder();

    /// <summary>A new stateful encoder that writes one client stream in this dialect.</summary>
    IStreamEncoder CreateStreamEncoder(string model, string responseId);

    /// <summary>Writes an error body in this dialect's envelope.</summary>
    void WriteError(Utf8JsonWriter writer, QlaudError error);
}

/// <summary>Decodes the server-sent events of one upstream stream into canonical updates.</summary>
internal interface IStreamDecoder
{
    /// <summary>
    /// Decodes one event. <paramref name="eventType"/> is the SSE <c>event:</c> field (empty when absent),
    /// <paramref name="data"/> the joined <c>data:</c> lines. Appends zero or more updates to <paramref name="updates"/>.
    /// Tool calls are emitted as <see cref="ToolCallDeltaContent"/>, usage as <see cref="UsageContent"/>,
    /// the end of the answer as an update with <see cref="ChatResponseUpdate.FinishReason"/>.
    /// An upstream error event becomes a <see cref="DialectException"/>.
    /// </summary>
    void Decode(ReadOnlySpan<byte> eventType, ReadOnlySpan<byte> data, List<ChatResponseUpdate> updates);

    /// <summary>True once the upstream has signalled the end of the stream (<c>[DONE]</c>, <c>message_stop</c>).</summary>
    bool Completed { get; }
}

/// <summary>Encodes canonical updates as the server-sent events of one client stream.</summary>
internal interface IStreamEncoder
{
    /// <summary>Writes the events for one update (none, one or several).</summary>
    void Encode(ChatResponseUpdate update, IBufferWriter<byte> output);

    /// <summary>Writes the events that close a successful stream (<c>data: [DONE]</c>, <c>message_stop</c>).</summary>
    void Complete(IBufferWriter<byte> output);

    /// <summary>Writes a well-formed error event that ends the stream.</summary>
    void Fail(QlaudError error, IBufferWriter<byte> output);
}
