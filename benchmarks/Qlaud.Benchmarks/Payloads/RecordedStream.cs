using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Forwarding;

namespace Qlaud.Benchmarks.Payloads;

/// <summary>One recorded-shape upstream stream: its bytes, where each event ends, and its canonical updates.</summary>
internal sealed class RecordedStream
{
    private RecordedStream(byte[] bytes, int[] eventEnds)
    {
        Bytes = bytes;
        EventEnds = eventEnds;
    }

    public byte[] Bytes { get; }

    public int[] EventEnds { get; }

    public int Events => EventEnds.Length;

    /// <summary>An OpenAI stream of <paramref name="chunks"/> chunks plus <c>[DONE]</c>; see <see cref="OpenAIPayloads.Stream"/>.</summary>
    public static RecordedStream OpenAI(int chunks, bool usageNullPerChunk = true)
    {
        var ends = new List<int>(chunks + 1);
        var bytes = OpenAIPayloads.Stream(chunks, ends, usageNullPerChunk);
        return new RecordedStream(bytes, [.. ends]);
    }

    /// <summary>Decodes the stream with <paramref name="dialect"/> into the canonical updates a translator would see.</summary>
    public List<ChatResponseUpdate> Decode(IChatDialect dialect)
    {
        var decoder = dialect.CreateStreamDecoder();
        var updates = new List<ChatResponseUpdate>(Events);
        int start = 0;
        foreach (int end in EventEnds)
        {
            SseEvent.Parse(Bytes.AsSpan(start, end - start), out var type, out var data);
            decoder.Decode(type, data, updates);
            start = end;
        }

        if (!decoder.Completed)
        {
            throw new InvalidOperationException("The recorded stream did not decode to completion.");
        }

        return updates;
    }
}
