using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;

namespace Qlaud.FakeProvider;

/// <summary>How writing a response ended.</summary>
internal enum ReplyOutcome
{
    Completed,
    ClientGone,
    CutOff,
}

/// <summary>
/// One chat request being answered: the resolved reply settings plus one <see cref="Utf8JsonWriter"/> reused for
/// every JSON value of the response, written straight into the response pipe.
/// </summary>
internal sealed class ChatExchange : IDisposable
{
    private readonly Utf8JsonWriter _json;
    private int _deltas;

    public ChatExchange(HttpContext http, FakeProviderOptions options, FakeReply reply, string model, bool includeUsage, int requestBodyLength, long sequence, CancellationToken cancellation)
    {
        Http = http;
        Reply = reply;
        Model = model;
        IncludeUsage = includeUsage;
        Sequence = sequence;
        Cancellation = cancellation;
        TimeProvider = options.TimeProvider;
        Usage = ResolvedUsage.For(reply, requestBodyLength);
        ChunkSize = Math.Max(1, reply.ChunkSize ?? options.ChunkSize);
        ChunkDelay = reply.ChunkDelay ?? options.ChunkDelay;
        Created = TimeProvider.GetUtcNow().ToUnixTimeSeconds();
        Pipe = http.Response.BodyWriter;
        _json = new Utf8JsonWriter(Pipe, FakeHttp.WriterOptions);
    }

    public HttpContext Http { get; }

    public FakeReply Reply { get; }

    public string Model { get; }

    public bool IncludeUsage { get; }

    public long Sequence { get; }

    public CancellationToken Cancellation { get; }

    public TimeProvider TimeProvider { get; }

    public ResolvedUsage Usage { get; }

    public int ChunkSize { get; }

    public TimeSpan ChunkDelay { get; }

    public long Created { get; }

    public PipeWriter Pipe { get; }

    /// <summary>True once the scripted number of content deltas has been written.</summary>
    public bool ShouldCutOff => Reply.CutOffAfterChunks is int limit && _deltas >= limit;

    /// <summary>Starts one top-level JSON value at the current position of the response.</summary>
    public Utf8JsonWriter Json()
    {
        _json.Flush();
        _json.Reset(Pipe);
        return _json;
    }

    /// <summary>Points the reused writer at another buffer (until the next <see cref="Json()"/>).</summary>
    public Utf8JsonWriter Json(IBufferWriter<byte> output)
    {
        _json.Flush();
        _json.Reset(output);
        return _json;
    }

    /// <summary>Writes pre-encoded bytes after whatever JSON was written before.</summary>
    public void Raw(ReadOnlySpan<byte> bytes)
    {
        _json.Flush();
        Pipe.Write(bytes);
    }

    /// <summary>Ends an SSE event and flushes it to the client.</summary>
    /// <returns><see langword="false"/> when the client is gone.</returns>
    public ValueTask<bool> EndEventAsync()
    {
        Raw("\n\n"u8);
        return FlushAsync();
    }

    public async ValueTask<bool> FlushAsync()
    {
        _json.Flush();
        var result = await Pipe.FlushAsync(Cancellation);
        return !result.IsCompleted && !result.IsCanceled && !Http.RequestAborted.IsCancellationRequested;
    }

    /// <summary>Waits the chunk delay before every content delta but the first.</summary>
    public ValueTask BeforeDeltaAsync()
        => _deltas > 0 && ChunkDelay > TimeSpan.Zero
            ? new ValueTask(Task.Delay(ChunkDelay, TimeProvider, Cancellation))
            : default;

    public void CountDelta() => _deltas++;

    /// <summary>Length of the next streamed fragment: <see cref="ChunkSize"/> characters, never splitting a surrogate pair.</summary>
    public int NextFragmentLength(ReadOnlySpan<char> rest)
    {
        if (rest.Length <= ChunkSize)
        {
            return rest.Length;
        }

        return char.IsHighSurrogate(rest[ChunkSize - 1]) ? ChunkSize + 1 : ChunkSize;
    }

    public string ToolCallId(int index, string prefix)
        => Reply.ToolCalls[index].Id ?? FakeIds.Create(prefix, Sequence, index);

    public void Dispose() => _json.Dispose();
}
