using System.Buffers;
using System.IO.Pipelines;
using Qlaud.Forwarding;

namespace Qlaud.Threads;

/// <summary>
/// The forwarder's sink for a thread turn: it keeps a copy of the Anthropic-dialect answer the forwarder writes, so the reply
/// can be persisted. A streamed answer goes on to the client as it is written (with the thread headers added when it
/// starts); a whole answer is held back, because the thread fields are added to its body before it is sent.
/// </summary>
internal sealed class ReplyCaptureSink : ResponseSink
{
    private readonly ResponseSink _client;
    private readonly bool _holdBack;
    private readonly IReadOnlyList<KeyValuePair<string, string>> _startHeaders;
    private readonly CapturingWriter _writer;

    public ReplyCaptureSink(ResponseSink client, bool holdBack, IReadOnlyList<KeyValuePair<string, string>> startHeaders)
    {
        _client = client;
        _holdBack = holdBack;
        _startHeaders = startHeaders;
        _writer = new CapturingWriter(this);
    }

    /// <summary>Every byte of the answer written so far.</summary>
    public ReadOnlyMemory<byte> Captured => _writer.Captured.WrittenMemory;

    /// <summary>The status the forwarder answered with; 0 before it started.</summary>
    public int StatusCode { get; private set; }

    public string? ContentType { get; private set; }

    /// <summary>The <c>x-qlaud-route</c> header the forwarder set: the route that answered.</summary>
    public string? Route { get; private set; }

    public bool Started { get; private set; }

    public override bool HasStarted => Started;

    public override PipeWriter Writer => _writer;

    public override void Start(int statusCode, string contentType, long? contentLength = null)
    {
        Started = true;
        StatusCode = statusCode;
        ContentType = contentType;
        if (_holdBack)
        {
            return;
        }

        if (statusCode < 400)
        {
            foreach (var (name, value) in _startHeaders)
            {
                _client.SetHeader(name, value);
            }
        }

        _client.Start(statusCode, contentType, contentLength);
    }

    public override void SetHeader(string name, string value)
    {
        if (string.Equals(name, "x-qlaud-route", StringComparison.OrdinalIgnoreCase))
        {
            Route = value;
        }

        _client.SetHeader(name, value);
    }

    /// <summary>Does not end the client's response: a streamed turn is ended by its surface once the reply is persisted, so a
    /// client that saw the end of the stream finds the turn in the thread.</summary>
    public override ValueTask CompleteAsync() => ValueTask.CompletedTask;

    /// <summary>Sends an answer that was held back to the client as it was written (an upstream error relayed as is).</summary>
    public async ValueTask ReleaseHeldBackAsync(CancellationToken cancellationToken)
    {
        _client.Start(StatusCode, ContentType ?? "application/json", Captured.Length);
        await _client.Writer.WriteAsync(Captured, cancellationToken).ConfigureAwait(false);
        await _client.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Copies what is written; passes it on to the client unless the answer is held back.</summary>
    private sealed class CapturingWriter(ReplyCaptureSink sink) : PipeWriter
    {
        private Memory<byte> _lent;

        public ArrayBufferWriter<byte> Captured { get; } = new(4096);

        private PipeWriter? Client => sink._holdBack ? null : sink._client.Writer;

        public override void Advance(int bytes)
        {
            if (Client is { } client)
            {
                Captured.Write(_lent.Span[..bytes]);
                client.Advance(bytes);
            }
            else
            {
                Captured.Advance(bytes);
            }

            _lent = default;
        }

        public override Memory<byte> GetMemory(int sizeHint = 0)
            => _lent = Client is { } client ? client.GetMemory(sizeHint) : Captured.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
            => Client is { } client ? client.FlushAsync(cancellationToken) : new ValueTask<FlushResult>(new FlushResult(false, false));

        public override void CancelPendingFlush() => Client?.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => Client?.Complete(exception);
    }
}
