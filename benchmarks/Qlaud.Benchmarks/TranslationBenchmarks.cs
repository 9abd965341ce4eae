using System.IO.Pipelines;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using BenchmarkDotNet.Attributes;
using Qlaud.Benchmarks.Payloads;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;
using Qlaud.Dialects.OpenAI;
using Qlaud.Forwarding;

namespace Qlaud.Benchmarks;

/// <summary>
/// Cross-dialect streaming: a 200-chunk OpenAI upstream stream translated event by event into Anthropic Messages events
/// (<c>message_start</c>, <c>content_block_*</c>, <c>message_delta</c>, <c>message_stop</c>) by the forwarder's own
/// translating handler, pumped by <see cref="ChatForwarder.PumpAsync"/> as in <c>ChatForwarder.TranslateAsync</c>.
/// </summary>
/// <remarks>
/// The baseline is passthrough of the same stream (the cost when the route speaks the client's dialect); the ratio is what
/// an Anthropic client (Claude Code) pays for talking to an OpenAI-dialect model. Reads are one event each, as from a socket.
/// </remarks>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
public class TranslationBenchmarks
{
    private static readonly Func<IStreamDecoder, IStreamEncoder, SseEventHandler> CreateTranslator = CompileTranslatorFactory();

    private RecordedStream _recorded = null!;
    private EventPacedStream _upstream = null!;
    private PipeWriter _client = null!;

    [GlobalSetup]
    public void Setup()
    {
        _recorded = RecordedStream.OpenAI(200);
        _upstream = new EventPacedStream(_recorded.Bytes, _recorded.EventEnds);
        _client = PipeWriter.Create(Stream.Null, new StreamPipeWriterOptions(leaveOpen: true));
        Verify();
    }

    [Benchmark(Baseline = true)]
    public async Task<bool> Passthrough_OpenAI()
    {
        _upstream.Rewind();
        var inspector = new OpenAIPassthroughInspector(hideUsageChunk: true);
        await Relay.PumpAsync(_upstream, _client, inspector);
        return inspector.Completed;
    }

    [Benchmark]
    public async Task<bool> Translate_OpenAIToAnthropic()
    {
        _upstream.Rewind();
        var decoder = OpenAIDialect.Instance.CreateStreamDecoder();
        var encoder = AnthropicDialect.Instance.CreateStreamEncoder(OpenAIPayloads.Model, "msg_qlaud0123456789abcdef");
        await Relay.PumpAsync(_upstream, _client, CreateTranslator(decoder, encoder));

        // TranslatingStreamHandler.Finish on a completed stream: close the client stream cleanly.
        encoder.Complete(_client);
        await _client.FlushAsync();
        return decoder.Completed;
    }

    /// <summary>
    /// The translating handler is a private class of <see cref="ChatForwarder"/>; it is benchmarked as is (not copied) through
    /// a constructor delegate compiled once, so no reflection cost lands in the measurement.
    /// </summary>
    private static Func<IStreamDecoder, IStreamEncoder, SseEventHandler> CompileTranslatorFactory()
    {
        var type = typeof(ChatForwarder).GetNestedType("TranslatingStreamHandler", BindingFlags.NonPublic)
            ?? throw new InvalidOperationException("ChatForwarder.TranslatingStreamHandler was renamed; update the benchmark.");
        var constructor = type.GetConstructor([typeof(IStreamDecoder), typeof(IStreamEncoder)])
            ?? throw new InvalidOperationException("TranslatingStreamHandler(IStreamDecoder, IStreamEncoder) was changed; update the benchmark.");
        var decoder = Expression.Parameter(typeof(IStreamDecoder));
        var encoder = Expression.Parameter(typeof(IStreamEncoder));
        return Expression.Lambda<Func<IStreamDecoder, IStreamEncoder, SseEventHandler>>(
            Expression.Convert(Expression.New(constructor, decoder, encoder), typeof(SseEventHandler)), decoder, encoder).Compile();
    }

    /// <summary>Checks once that the translation yields a complete Anthropic stream with every text delta.</summary>
    private void Verify()
    {
        var sink = new MemoryStream();
        var writer = PipeWriter.Create(sink, new StreamPipeWriterOptions(leaveOpen: true));
        _upstream.Rewind();
        var encoder = AnthropicDialect.Instance.CreateStreamEncoder(OpenAIPayloads.Model, "msg_check");
        Relay.PumpAsync(_upstream, writer, CreateTranslator(OpenAIDialect.Instance.CreateStreamDecoder(), encoder)).GetAwaiter().GetResult();
        encoder.Complete(writer);
        writer.FlushAsync().AsTask().GetAwaiter().GetResult();
        string text = Encoding.UTF8.GetString(sink.ToArray());
        int deltas = Count(text, "event: content_block_delta");
        if (!text.StartsWith("event: message_start", StringComparison.Ordinal) || !text.Contains("event: message_stop", StringComparison.Ordinal) || deltas != 200 - 3)
        {
            throw new InvalidOperationException($"Translation check failed: {deltas} text deltas; output starts '{text[..Math.Min(200, text.Length)]}'.");
        }
    }

    private static int Count(string text, string value)
    {
        int count = 0;
        for (int at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
