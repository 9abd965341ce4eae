using System.Net;

namespace Qlaud.Connectors.Builtins.WebFetch;

/// <summary>Resolves the host names <c>web_fetch</c> connects to. The connection goes to the addresses this returns, after
/// they were checked, so a test can give a name a loopback address without a DNS server.</summary>
internal interface IHostResolver
{
    /// <summary>The addresses of <paramref name="host"/> (a name, never an address literal).</summary>
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

/// <summary>The system resolver (<see cref="Dns.GetHostAddressesAsync(string, CancellationToken)"/>).</summary>
internal sealed class DnsHostResolver : IHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);
}
