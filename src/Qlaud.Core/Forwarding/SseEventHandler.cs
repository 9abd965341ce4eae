using System.Buffers;

namespace Qlaud.Forwarding;

/// <summary>Handles the events of one upstream stream as <see cref="ChatForwarder"/> pumps them to the client.</summary>
internal abstract class SseEventHandler
{
    /// <summary>Handles one complete raw event (blank line included); returns whether anything was written to <paramref name="client"/>.</summary>
    public abstract bool Handle(ReadOnlySpan<byte> rawEvent, IBufferWriter<byte> client);
}
