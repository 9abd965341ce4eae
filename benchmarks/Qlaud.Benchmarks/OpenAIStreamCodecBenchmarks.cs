using System.Buffers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Microsoft.Extensions.AI;
using Qlaud.Benchmarks.Payloads;
using Qlaud.Dialects.OpenAI;
using Qlaud.Forwarding;

namespace Qlaud.Benchmarks;

/// <summary>
/// The OpenAI stream codec over one whole 200-chunk answer: decoding every <c>chat.completion.chunk</c> event into
/// canonical updates, and encoding the canonical updates back into events (one encoder per stream, as in production).
/// </summary>
/// <remarks>
/// Baselines: for decoding, only finding the events and their <c>data:</c> lines (what passthrough does); for encoding,
/// copying the recorded bytes of the same stream to the output (the floor for producing them).
/// </remarks>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class OpenAIStreamCodecBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(128 * 1024);
    private readonly List<ChatResponseUpdate> _decoded = new(8);
    private RecordedStream _stream = null!;
    private List<ChatResponseUpdate> _updates = null!;

    [Params(200)]
    public int Chunks { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _stream = RecordedStream.OpenAI(Chunks);
        _updates = _stream.Decode(OpenAIDialect.Instance);
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Decode")]
    public int Frame()
    {
        var bytes = _stream.Bytes.AsSpan();
        int total = 0;
        while (!bytes.IsEmpty)
        {
            int end = SseEvent.FindEventEnd(bytes);
            SseEvent.Parse(bytes[..end], out _, out var data);
            total += data.Length;
            bytes = bytes[end..];
        }

        return total;
    }

    [Benchmark, BenchmarkCategory("Decode")]
    public int Decode()
    {
        var decoder = OpenAIDialect.Instance.CreateStreamDecoder();
        var bytes = _stream.Bytes.AsSpan();
        int updates = 0;
        while (!bytes.IsEmpty)
        {
            int end = SseEvent.FindEventEnd(bytes);
            SseEvent.Parse(bytes[..end], out var type, out var data);
            _decoded.Clear();
            decoder.Decode(type, data, _decoded);
            updates += _decoded.Count;
            bytes = bytes[end..];
        }

        return updates;
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Encode")]
    public int Copy()
    {
        _output.ResetWrittenCount();
        var bytes = _stream.Bytes;
        int start = 0;
        foreach (int end in _stream.EventEnds)
        {
            _output.Write(bytes.AsSpan(start, end - start));
            start = end;
        }

        return _output.WrittenCount;
    }

    [Benchmark, BenchmarkCategory("Encode")]
    public int Encode()
    {
        _output.ResetWrittenCount();
        var encoder = OpenAIDialect.Instance.CreateStreamEncoder(OpenAIPayloads.Model, "chatcmpl-qlaud0123456789abcdef", includeUsage: true);
        for (int i = 0; i < _updates.Count; i++)
        {
            encoder.Encode(_updates[i], _output);
        }

        encoder.Complete(_output);
        return _output.WrittenCount;
    }
}
