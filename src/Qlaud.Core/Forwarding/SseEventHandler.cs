using System.Buffers;
using Qlaud.Metering;

namespace Qlaud.Forwarding;

/// <summary>Handles the events of one upstream stream as <see cref="ChatForwarder"/> pumps them to the client.</summary>
internal abstract class SseEventHandler
{
    /// <summary>The usage read from the stream so far.</summary>
    public TokenUsage? Usage { get; protected set; }

    /// <summary>Events that wrote something to the client: the measure of what was generated when a stream ends before its usage.</summary>
    public int EventsRelayed { get; private set; }

    /// <summary>Handles one complete raw event (blank line included); returns whether anything was written to <paramref name="client"/>.</summary>
    public abstract bool Handle(ReadOnlySpan<byte> rawEvent, IBufferWriter<byte> client);

    /// <summary>Handles one event and counts it when it reached the client.</summary>
    public bool HandleAndCount(ReadOnlySpan<byte> rawEvent, IBufferWriter<byte> client)
    {
        bool wrote = Handle(rawEvent, client);
        if (wrote)
        {
            EventsRelayed++;
        }

        return wrote;
    }
}
