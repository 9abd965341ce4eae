using System.IO.Pipelines;
using Qlaud.Forwarding;

namespace Qlaud.Batches;

/// <summary>A response sink that keeps the answer in memory: a batch request's answer is stored, not relayed.</summary>
internal sealed class CaptureSink : ResponseSink
{
    private readonly MemoryStream _body = new();
    private readonly PipeWriter _writer;
    private bool _started;

    public CaptureSink() => _writer = PipeWriter.Create(_body, new StreamPipeWriterOptions(leaveOpen: true));

    public override bool HasStarted => _started;

    public override PipeWriter Writer => _writer;

    public int StatusCode { get; private set; }

    public override void Start(int statusCode, string contentType, long? contentLength = null)
    {
        StatusCode = statusCode;
        _started = true;
    }

    public override void SetHeader(string name, string value)
    {
        // Headers (route, attempts) are not part of a batch result.
    }

    /// <summary>The whole answer, once the forwarder returned.</summary>
    public async ValueTask<byte[]> ToArrayAsync()
    {
        await _writer.FlushAsync().ConfigureAwait(false);
        return _body.ToArray();
    }
}
