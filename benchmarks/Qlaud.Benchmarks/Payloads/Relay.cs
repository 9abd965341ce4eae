using System.Buffers;
using System.IO.Pipelines;
using Qlaud.Forwarding;
using Qlaud.Providers;

namespace Qlaud.Benchmarks.Payloads;

/// <summary>Calls <see cref="ChatForwarder.PumpAsync"/> the way the forwarder does for one attempt: a rented buffer, a fresh deadline, the default idle timeout.</summary>
internal static class Relay
{
    /// <summary>The idle timeout between reads that a provider gets by default (<c>Qlaud:Routing:IdleTimeoutSeconds</c>).</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The largest event the relay buffers by default (<c>Qlaud:Limits:MaxEventBytes</c>).</summary>
    public static readonly int MaxEventBytes = new Qlaud.Configuration.LimitsOptions().MaxEventBytes;

    public static async Task PumpAsync(Stream upstream, PipeWriter client, SseEventHandler handler)
    {
        using var deadline = new UpstreamDeadline(TimeProvider.System, CancellationToken.None);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(16 * 1024); // the pump returns it
        await ChatForwarder.PumpAsync(upstream, buffer, 0, client, handler, deadline, IdleTimeout, MaxEventBytes, CancellationToken.None);
    }
}
