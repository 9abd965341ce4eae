using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Qlaud.Dialects.Anthropic;

// Streams: server-sent events of POST /v1/messages with "stream": true.
internal sealed partial class AnthropicDialect
{
    /// <summary>JSON writer options for stream events: compact, non-ASCII text left unescaped as Anthropic sends it.</summary>
    internal static readonly JsonWriterOptions StreamWriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    /// <inheritdoc />
    /// <remarks>See <see cref="AnthropicStreamDecoder"/> for how events become updates.</remarks>
    public IStreamDecoder CreateStreamDecoder() => new AnthropicStreamDecoder();

    /// <inheritdoc />
    /// <remarks>See <see cref="AnthropicStreamEncoder"/> for the event order it guarantees.</remarks>
    public IStreamEncoder CreateStreamEncoder(string model, string responseId)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(responseId);
        return new AnthropicStreamEncoder(model, responseId);
    }

    /// <summary>Writes raw UTF-8 bytes to <paramref name="output"/>.</summary>
    internal static void WriteRaw(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        var span = output.GetSpan(bytes.Length);
        bytes.CopyTo(span);
        output.Advance(bytes.Length);
    }
}
