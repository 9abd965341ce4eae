using System.Net;
using System.Net.Sockets;

namespace Qlaud.Connectors.Tools;

/// <summary>Refuses MCP server URLs a request brings (<c>mcp_servers</c>) that point into private networks, unless
/// <c>Qlaud:Connectors:AllowPrivateNetworks</c>.</summary>
/// <remarks>The host is resolved and every address checked: loopback, private (RFC 1918, unique local), carrier-grade NAT,
/// link-local (cloud metadata endpoints) and unspecified addresses are refused.</remarks>
internal static class SsrfGuard
{
    public static async Task<string?> CheckAsync(Uri url, bool allowPrivate, CancellationToken cancellationToken)
    {
        if (url.Scheme is not ("https" or "http"))
        {
            return "must be an http or https URL";
        }

        if (allowPrivate)
        {
            return null;
        }

        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(url.IdnHost, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(url.IdnHost, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            return "does not resolve";
        }

        foreach (var address in addresses)
        {
            if (IsPrivate(address))
            {
                return "points into a private or loopback network (set Qlaud:Connectors:AllowPrivateNetworks to allow it)";
            }
        }

        return addresses.Length == 0 ? "does not resolve" : null;
    }

    internal static bool IsPrivate(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.None))
        {
            return true;
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal || address.IsIPv6Multicast;
        }

        var b = address.GetAddressBytes();
        return b[0] == 10 || b[0] == 0 || b[0] >= 224
            || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
            || (b[0] == 192 && b[1] == 168)
            || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && b[1] >= 64 && b[1] <= 127);
    }
}
