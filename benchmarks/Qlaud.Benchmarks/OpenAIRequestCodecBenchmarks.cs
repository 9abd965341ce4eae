using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Qlaud.Benchmarks.Payloads;
using Qlaud.Dialects;
using Qlaud.Dialects.OpenAI;

namespace Qlaud.Benchmarks;

/// <summary>
/// The OpenAI codec on requests and responses, the translation path's first and last steps: decode a rich request
/// (tools, parallel tool calls and results, an image, sampling options) into the canonical model, encode it back for an
/// upstream, and decode a non-streamed response.
/// </summary>
/// <remarks>Each category's baseline is <see cref="JsonDocument"/> doing the generic half of the work on the same bytes.</remarks>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class OpenAIRequestCodecBenchmarks
{
    private readonly OpenAIDialect _dialect = OpenAIDialect.Instance;
    private readonly ArrayBufferWriter<byte> _output = new(16 * 1024);
    private byte[] _request = [];
    private byte[] _response = [];
    private CanonicalChatRequest _canonical = null!;
    private JsonDocument _requestDocument = null!;
    private Utf8JsonWriter _writer = null!;

    [GlobalSetup]
    public void Setup()
    {
        _request = OpenAIPayloads.RichRequest();
        _response = OpenAIPayloads.Response();
        _canonical = _dialect.ReadRequest(_request);
        _requestDocument = JsonDocument.Parse(_request);
        _writer = new Utf8JsonWriter(_output);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _requestDocument.Dispose();
        _writer.Dispose();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("ReadRequest")]
    public int ReadRequest_JsonDocument()
    {
        using var document = JsonDocument.Parse(_request);
        return document.RootElement.CountProperties();
    }

    [Benchmark, BenchmarkCategory("ReadRequest")]
    public int ReadRequest() => _dialect.ReadRequest(_request).Messages.Count;

    [Benchmark(Baseline = true), BenchmarkCategory("WriteRequest")]
    public long WriteRequest_JsonDocument()
    {
        _output.ResetWrittenCount();
        _writer.Reset(_output);
        _requestDocument.WriteTo(_writer);
        _writer.Flush();
        return _writer.BytesCommitted;
    }

    [Benchmark, BenchmarkCategory("WriteRequest")]
    public long WriteRequest()
    {
        _output.ResetWrittenCount();
        _writer.Reset(_output);
        _dialect.WriteRequest(_writer, _canonical, OpenAIPayloads.UpstreamModel);
        _writer.Flush();
        return _writer.BytesCommitted;
    }

    [Benchmark(Baseline = true), BenchmarkCategory("ReadResponse")]
    public int ReadResponse_JsonDocument()
    {
        using var document = JsonDocument.Parse(_response);
        return document.RootElement.CountProperties();
    }

    [Benchmark, BenchmarkCategory("ReadResponse")]
    public int ReadResponse() => _dialect.ReadResponse(_response).Messages.Count;
}

internal static class JsonElementExtensions
{
    /// <summary>Touches the parsed document so the parse cannot be skipped: the number of top-level properties.</summary>
    public static int CountProperties(this JsonElement element)
    {
        int count = 0;
        foreach (var _ in element.EnumerateObject())
        {
            count++;
        }

        return count;
    }
}
