using System.Collections.Frozen;
using System.Net.Http;
using System.Net.Sockets;
using Qlaud.Catalog;

namespace Qlaud.Providers;

/// <summary>Opens TCP connections to providers with each provider's connect timeout (the <c>ConnectCallback</c> of the upstream handler).</summary>
/// <remarks>
/// Connections are pooled per host and port, not per provider, so providers at the same endpoint share a connect timeout:
/// the longest configured among them. Looking the timeout up by endpoint keeps per-request work at zero.
/// </remarks>
internal sealed class UpstreamConnector
{
    private readonly FrozenDictionary<string, TimeSpan> _timeouts;
    private readonly TimeSpan _default;

    public UpstreamConnector(ModelCatalog catalog, TimeSpan defaultTimeout)
    {
        var timeouts = new Dictionary<string, TimeSpan>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in catalog.Providers.Values)
        {
            string key = Key(provider.BaseUrl.IdnHost, provider.BaseUrl.Port);
            timeouts[key] = timeouts.TryGetValue(key, out var existing) && existing > provider.ConnectTimeout ? existing : provider.ConnectTimeout;
        }

        _timeouts = timeouts.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _default = defaultTimeout;
    }

    public TimeSpan TimeoutFor(string host, int port) => _timeouts.TryGetValue(Key(host, port), out var timeout) ? timeout : _default;

    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var endpoint = context.DnsEndPoint;
        var timeout = TimeoutFor(endpoint.Host, endpoint.Port);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, deadline.Token).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"The connection to {endpoint.Host}:{endpoint.Port} was not established within {timeout.TotalSeconds:0.###} s.");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static string Key(string host, int port) => host + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
