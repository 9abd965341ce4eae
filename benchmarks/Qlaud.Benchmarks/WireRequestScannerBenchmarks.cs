using BenchmarkDotNet.Attributes;
using Qlaud.Benchmarks.Payloads;
using Qlaud.Forwarding;

namespace Qlaud.Benchmarks;

/// <summary>
/// Passthrough request rewrite: <see cref="WireRequestScanner.Scan"/> finds <c>model</c>/<c>stream</c>, then
/// <see cref="WireRequestScanner.Rewrite"/> copies the body with the upstream model spliced in and
/// <c>stream_options.include_usage</c> inserted, into a pooled buffer as <c>ChatForwarder.PassthroughAsync</c> does.
/// </summary>
/// <remarks>The baseline is the least any relay must do: copy the body bytes into a pooled buffer.</remarks>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
public class WireRequestScannerBenchmarks
{
    private byte[] _body = [];
    private byte[] _modelJson = [];
    private WireRequestInfo _info;

    /// <summary>Body size in bytes: a short chat, and a long conversation.</summary>
    [Params(2 * 1024, 40 * 1024)]
    public int BodyBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _body = OpenAIPayloads.ChatBody(BodyBytes, stream: true);
        _modelJson = WireRequestScanner.EncodeModel(OpenAIPayloads.UpstreamModel);
        if (WireRequestScanner.Scan(_body, out _info) is { } error)
        {
            throw new InvalidOperationException(error);
        }
    }

    [Benchmark(Baseline = true)]
    public int Copy()
    {
        using var output = new PooledBufferWriter(_body.Length + 64);
        var span = output.GetSpan(_body.Length);
        _body.CopyTo(span);
        output.Advance(_body.Length);
        return output.WrittenCount;
    }

    [Benchmark]
    public bool Scan() => WireRequestScanner.Scan(_body, out var info) is null && info.Stream;

    [Benchmark]
    public int Scan_Rewrite()
    {
        WireRequestScanner.Scan(_body, out var info);
        using var output = new PooledBufferWriter(_body.Length + 64);
        WireRequestScanner.Rewrite(_body, info, _modelJson, forceIncludeUsage: info.Stream, output);
        return output.WrittenCount;
    }

    [Benchmark]
    public int Rewrite()
    {
        using var output = new PooledBufferWriter(_body.Length + 64);
        WireRequestScanner.Rewrite(_body, _info, _modelJson, forceIncludeUsage: true, output);
        return output.WrittenCount;
    }
}
