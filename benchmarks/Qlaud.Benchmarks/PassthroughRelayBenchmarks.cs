using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Qlaud.Benchmarks.Payloads;
using Qlaud.Forwarding;

namespace Qlaud.Benchmarks;

/// <summary>
/// The passthrough stream relay, <see cref="ChatForwarder.PumpAsync"/>: a 200-chunk OpenAI stream pumped from the upstream
/// stream into the client's <see cref="PipeWriter"/> (over <see cref="Stream.Null"/>), with the
/// <see cref="OpenAIPassthroughInspector"/> reading usage and withholding the usage chunk the client did not ask for.
/// </summary>
/// <remarks>
/// <para><c>Bulk</c>: the upstream is a <see cref="MemoryStream"/>, so one read returns the whole stream. <c>PerEvent</c>:
/// every read returns one event, as a socket does when the provider flushes per token; this is the production shape, with one
/// parse and one client flush per event.</para>
/// <para>Baseline: <see cref="Stream.CopyToAsync(Stream)"/> to <see cref="Stream.Null"/>, bytes moved with no looking and
/// no flushing. <c>ReadWriteFlush</c> is the floor for a relay that flushes per read; <c>Pump_RelayAll</c> adds event framing;
/// <c>Pump_Passthrough</c> adds the inspector (the production path). The recorded stream has <c>"usage":null</c> in every
/// chunk, as OpenAI sends it once <c>stream_options.include_usage</c> is set (Qlaud always sets it);
/// <c>Pump_Passthrough_NoUsageNull</c> relays the same stream without those fields, as most other OpenAI-compatible hosts send it.</para>
/// </remarks>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
public class PassthroughRelayBenchmarks
{
    private RecordedStream _recorded = null!;
    private MemoryStream _bulk = null!;
    private EventPacedStream _paced = null!;
    private MemoryStream _bulkLean = null!;
    private EventPacedStream _pacedLean = null!;
    private PipeWriter _client = null!;

    public enum ReadShape
    {
        Bulk,
        PerEvent,
    }

    [Params(ReadShape.Bulk, ReadShape.PerEvent)]
    public ReadShape Reads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _recorded = RecordedStream.OpenAI(200);
        _bulk = new MemoryStream(_recorded.Bytes, writable: false);
        _paced = new EventPacedStream(_recorded.Bytes, _recorded.EventEnds);
        var lean = RecordedStream.OpenAI(200, usageNullPerChunk: false);
        _bulkLean = new MemoryStream(lean.Bytes, writable: false);
        _pacedLean = new EventPacedStream(lean.Bytes, lean.EventEnds);
        _client = PipeWriter.Create(Stream.Null, new StreamPipeWriterOptions(leaveOpen: true));
        Verify();
    }

    [Benchmark(Baseline = true)]
    public async Task<long> CopyToAsync()
    {
        var upstream = Upstream();
        await upstream.CopyToAsync(Stream.Null);
        return upstream.Position;
    }

    [Benchmark]
    public async Task<int> ReadWriteFlush()
    {
        var upstream = Upstream();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        int total = 0;
        try
        {
            int read;
            while ((read = await upstream.ReadAsync(buffer)) > 0)
            {
                total += read;
                _client.Write(buffer.AsSpan(0, read));
                await _client.FlushAsync();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return total;
    }

    [Benchmark]
    public async Task<bool> Pump_RelayAll()
    {
        var handler = new RelayAllHandler();
        await Relay.PumpAsync(Upstream(), _client, handler);
        return handler.Events > 0;
    }

    [Benchmark]
    public async Task<bool> Pump_Passthrough()
    {
        var inspector = new OpenAIPassthroughInspector(hideUsageChunk: true);
        await Relay.PumpAsync(Upstream(), _client, inspector);
        return inspector.Completed;
    }

    [Benchmark]
    public async Task<bool> Pump_Passthrough_NoUsageNull()
    {
        var inspector = new OpenAIPassthroughInspector(hideUsageChunk: true);
        await Relay.PumpAsync(Upstream(lean: true), _client, inspector);
        return inspector.Completed;
    }

    private Stream Upstream(bool lean = false)
    {
        if (Reads == ReadShape.Bulk)
        {
            var bulk = lean ? _bulkLean : _bulk;
            bulk.Position = 0;
            return bulk;
        }

        var paced = lean ? _pacedLean : _paced;
        paced.Rewind();
        return paced;
    }

    /// <summary>Checks once that the relay really relays: every byte but the withheld usage chunk, usage read, end seen.</summary>
    private void Verify()
    {
        var sink = new MemoryStream();
        var writer = PipeWriter.Create(sink, new StreamPipeWriterOptions(leaveOpen: true));
        int usageChunk = _recorded.EventEnds[^2] - _recorded.EventEnds[^3];
        var inspector = new OpenAIPassthroughInspector(hideUsageChunk: true);
        Relay.PumpAsync(Upstream(), writer, inspector).GetAwaiter().GetResult();
        if (!inspector.Completed || inspector.Usage is null || sink.Length != _recorded.Bytes.Length - usageChunk)
        {
            throw new InvalidOperationException($"Relay check failed: completed={inspector.Completed}, usage={inspector.Usage}, relayed {sink.Length} of {_recorded.Bytes.Length} bytes.");
        }
    }

    /// <summary>Relays every event untouched: the relay's framing cost without inspection.</summary>
    private sealed class RelayAllHandler : SseEventHandler
    {
        public int Events { get; private set; }

        public override bool Handle(ReadOnlySpan<byte> rawEvent, IBufferWriter<byte> client)
        {
            Events++;
            client.Write(rawEvent);
            return true;
        }
    }
}
