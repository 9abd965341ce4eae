using System.Buffers;
using Qlaud.Metering;

namespace Qlaud.Forwarding;

/// <summary>Looks at each event of a relayed stream: reads usage, sees the end, and decides whether the client gets the event.</summary>
internal abstract class PassthroughInspector : SseEventHandler
{
    /// <summary>True once the upstream sent its end-of-stream event.</summary>
    public bool Completed { get; protected set; }

    /// <summary>An error event the upstream sent inside the stream, if any.</summary>
    public string? UpstreamError { get; protected set; }

    /// <summary>Inspects one raw event (its bytes, blank line included). Returns false to keep it from the client.</summary>
    public abstract bool OnEvent(ReadOnlySpan<byte> rawEvent);

    /// <summary>Relays the event's original bytes unless <see cref="OnEvent"/> withholds it.</summary>
    public sealed override bool Handle(ReadOnlySpan<byte> rawEvent, IBufferWriter<byte> client)
    {
        if (!OnEvent(rawEvent))
        {
            return false;
        }

        client.Write(rawEvent);
        return true;
    }
}
