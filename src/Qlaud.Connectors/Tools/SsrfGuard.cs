using System.Net;
using System.Net.Sockets;

namespace Qlaud.Connectors.Tools;

/// <summary>Keeps outbound requests that a model or a request chooses the target of out of private networks: MCP server URLs
/// a request brings (<c>mcp_servers</c>, unless <c>Qlaud:Connectors:AllowPrivateNetworks</c>) and the pages the
/// <c>web_fetch</c> builtin reads (checked when each connection is opened, <see cref="ConnectAsync"/>).</summary>
/// <remarks>Loopback, private (RFC 1918, IPv6 unique local and site-local), carrier-grade NAT, link-local (cloud metadata
/// endpoints), unspecified, multicast and reserved addresses are private, also when written as IPv4-mapped, IPv4-compatible,
/// NAT64 (<c>64:ff9b::/96</c>) or 6to4 (<c>2002::/16</c>) IPv6 addresses.</remarks>
internal static class SsrfGuard
{
    /// <summary>Why <paramref name="url"/> may not be used (not http(s), does not resolve, resolves to a private address), or null.</summary>
    /// <param name="url">The URL.</param>
    /// <param name="allowPrivate">Whether private addresses are allowed.</param>
    /// <param name="cancellationToken">Cancels resolving.</param>
    /// <param name="resolve">Resolves a host name; the system resolver when null.</param>
    /// <remarks>A check before a request; the connection itself is checked again by <see cref="ConnectAsync"/> where the client uses it.</remarks>
    public static async Task<string?> CheckAsync(Uri url, bool allowPrivate, CancellationToken cancellationToken, Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null)
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
            addresses = IPAddress.TryParse(url.IdnHost, out var literal) ? [literal]
                : await (resolve ?? Dns.GetHostAddressesAsync)(url.IdnHost, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Opens a TCP connection to <paramref name="endpoint"/> the way a <see cref="SocketsHttpHandler.ConnectCallback"/>
    /// does, resolving the host itself and connecting only to the addresses it checked, so a name that resolves to a public
    /// address when checked and to a private one when connected (DNS rebinding) cannot slip through.</summary>
    /// <param name="endpoint">The host (name or address literal) and port the handler wants a connection to.</param>
    /// <param name="resolve">Resolves a host name to its addresses.</param>
    /// <param name="allowPrivate">Whether private addresses may be connected to for this host and port.</param>
    /// <param name="cancellationToken">Cancels resolving and connecting.</param>
    /// <returns>The connected stream (owning its socket).</returns>
    /// <exception cref="SsrfRefusedException">The host resolves to a private address (any of its addresses) and is not allowed.</exception>
    public static async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, Func<string, CancellationToken, Task<IPAddress[]>> resolve,
        Func<string, int, bool> allowPrivate, CancellationToken cancellationToken)
    {
        string host = endpoint.Host.StartsWith('[') && endpoint.Host.EndsWith(']') ? endpoint.Host[1..^1] : endpoint.Host;
        IPAddress[] addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await resolve(host, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        if (!allowPrivate(host, endpoint.Port))
        {
            foreach (var address in addresses)
            {
                if (IsPrivate(address))
                {
                    throw new SsrfRefusedException(host);
                }
            }
        }

        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last!;
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
            if (address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal || address.IsIPv6Multicast)
            {
                return true;
            }

            // IPv6 forms that carry an IPv4 address a gateway or the host may route to: IPv4-compatible (::a.b.c.d),
            // NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::).
            var v6 = address.GetAddressBytes();
            if (IsZero(v6.AsSpan(0, 12)) || (v6[0] == 0x00 && v6[1] == 0x64 && v6[2] == 0xff && v6[3] == 0x9b && IsZero(v6.AsSpan(4, 8))))
            {
                return IsPrivate(new IPAddress(v6.AsSpan(12, 4)));
            }

            return v6[0] == 0x20 && v6[1] == 0x02 && IsPrivate(new IPAddress(v6.AsSpan(2, 4)));
        }

        var b = address.GetAddressBytes();
        return b[0] == 10 || b[0] == 0 || b[0] >= 224
            || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
            || (b[0] == 192 && b[1] == 168)
            || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && b[1] >= 64 && b[1] <= 127);
    }

    private static bool IsZero(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyExcept((byte)0);
}

/// <summary>A connection refused by <see cref="SsrfGuard.ConnectAsync"/> because its host resolves to a private address.</summary>
internal sealed class SsrfRefusedException(string host)
    : IOException($"{host} resolves to a private, loopback or link-local address; connections there are refused")
{
    /// <summary>The refused host.</summary>
    public string Host { get; } = host;
}
