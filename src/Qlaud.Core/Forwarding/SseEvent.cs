namespace Qlaud.Forwarding;

/// <summary>Finds server-sent event boundaries and fields in raw bytes, for relaying events unchanged.</summary>
/// <remarks>
/// Written by hand rather than with <c>System.Net.ServerSentEvents.SseParser</c>: passthrough must forward each event's
/// original bytes (comments, field order, spacing) while looking inside it, and the parser only yields parsed items.
/// </remarks>
internal static class SseEvent
{
    /// <summary>Finds the end of the first complete event in <paramref name="buffer"/>: the index just past its blank line, or -1.</summary>
    public static int FindEventEnd(ReadOnlySpan<byte> buffer)
    {
        int searched = 0;
        while (true)
        {
            int lf = buffer[searched..].IndexOf((byte)'\n');
            if (lf < 0)
            {
                return -1;
            }

            int at = searched + lf + 1;
            if (at < buffer.Length && buffer[at] == (byte)'\n')
            {
                return at + 1;
            }

            if (at + 1 < buffer.Length && buffer[at] == (byte)'\r' && buffer[at + 1] == (byte)'\n')
            {
                return at + 2;
            }

            if (at >= buffer.Length)
            {
                return -1;
            }

            searched = at;
        }
    }

    /// <summary>
    /// Splits one raw event into its <c>event:</c> and first <c>data:</c> values (leading space removed, line ending excluded).
    /// Returns the number of <c>data:</c> lines (events from LLM APIs have one).
    /// </summary>
    public static int Parse(ReadOnlySpan<byte> rawEvent, out ReadOnlySpan<byte> eventType, out ReadOnlySpan<byte> data)
    {
        eventType = default;
        data = default;
        int dataLines = 0;
        foreach (var line in new LineEnumerator(rawEvent))
        {
            if (line.StartsWith("data:"u8))
            {
                if (dataLines++ == 0)
                {
                    data = TrimOneSpace(line[5..]);
                }
            }
            else if (line.StartsWith("event:"u8))
            {
                eventType = TrimOneSpace(line[6..]);
            }
        }

        return dataLines;
    }

    /// <summary>Joins every <c>data:</c> line of an event with <c>\n</c>, for the rare multi-line event.</summary>
    public static byte[] JoinData(ReadOnlySpan<byte> rawEvent)
    {
        using var joined = new MemoryStream();
        foreach (var line in new LineEnumerator(rawEvent))
        {
            if (line.StartsWith("data:"u8))
            {
                if (joined.Length > 0)
                {
                    joined.WriteByte((byte)'\n');
                }

                joined.Write(TrimOneSpace(line[5..]));
            }
        }

        return joined.ToArray();
    }

    private static ReadOnlySpan<byte> TrimOneSpace(ReadOnlySpan<byte> value)
        => !value.IsEmpty && value[0] == (byte)' ' ? value[1..] : value;

    /// <summary>The lines of an event without their <c>\n</c> or <c>\r\n</c> endings.</summary>
    private ref struct LineEnumerator(ReadOnlySpan<byte> remaining)
    {
        private ReadOnlySpan<byte> _remaining = remaining;

        public ReadOnlySpan<byte> Current { get; private set; }

        public readonly LineEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_remaining.IsEmpty)
            {
                return false;
            }

            int lf = _remaining.IndexOf((byte)'\n');
            var line = lf < 0 ? _remaining : _remaining[..lf];
            _remaining = lf < 0 ? default : _remaining[(lf + 1)..];
            Current = !line.IsEmpty && line[^1] == (byte)'\r' ? line[..^1] : line;
            return true;
        }
    }
}
