namespace Qlaud.Benchmarks.Payloads;

/// <summary>A read-only stream over recorded SSE bytes that returns at most one event per read, as a socket does when the upstream flushes per event.</summary>
/// <remarks>
/// A <see cref="MemoryStream"/> hands the relay the whole stream in one read, which hides the per-event cost (one parse, one
/// flush per event) that dominates in production. Reads complete synchronously, so no I/O is measured.
/// </remarks>
internal sealed class EventPacedStream(byte[] data, int[] eventEnds) : Stream
{
    private int _position;
    private int _event;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => data.Length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    /// <summary>Rewinds to the first event.</summary>
    public void Rewind()
    {
        _position = 0;
        _event = 0;
    }

    public override int Read(Span<byte> buffer)
    {
        if (_position >= data.Length)
        {
            return 0;
        }

        int end = eventEnds[_event];
        int count = Math.Min(buffer.Length, end - _position);
        data.AsSpan(_position, count).CopyTo(buffer);
        _position += count;
        if (_position == end)
        {
            _event++;
        }

        return count;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => new(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
