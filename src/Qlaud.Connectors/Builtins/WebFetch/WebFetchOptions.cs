namespace Qlaud.Connectors.Builtins.WebFetch;

/// <summary>The settings of the <c>web_fetch</c> builtin, in <c>Qlaud:Builtins:web_fetch</c>: limits of one fetch and which
/// private hosts it may reach.</summary>
/// <remarks>
/// <para>The tool needs no key (<see cref="BuiltinToolOptions.ApiKey"/> and <see cref="BuiltinToolOptions.BaseUrl"/> are not
/// used); it is available unless <see cref="BuiltinToolOptions.Enabled"/> is false. Validated at start-up.</para>
/// <para>Every connection is checked when it is opened: the host is resolved by the gateway and the connection goes to the
/// checked address, so loopback, private, link-local, carrier-grade NAT, unspecified and IPv6 unique local addresses (also
/// IPv4-mapped) are refused for the first request and for every redirect, unless <see cref="AllowPrivateNetworks"/> or
/// <see cref="AllowedPrivateHosts"/> say otherwise.</para>
/// </remarks>
public sealed class WebFetchOptions : BuiltinToolOptions
{
    /// <summary>Most bytes of a response body read (after decompression), 1 KiB–100 MiB (default 2 MiB); the rest is not
    /// downloaded and the result is marked <c>truncated</c>.</summary>
    public long MaxBytes { get; set; } = 2 * 1024 * 1024;

    /// <summary>Most characters of text the model gets, 256–1,000,000 (default 20,000); the model may ask for fewer.</summary>
    public int MaxOutputChars { get; set; } = 20_000;

    /// <summary>Most redirects followed, 0–10 (default 5); each target is checked like the first URL.</summary>
    public int MaxRedirects { get; set; } = 5;

    /// <summary>Whether private, loopback and link-local addresses may be fetched at all (default false).</summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>Hosts (<c>wiki.internal</c>) or host and port pairs (<c>10.0.0.5:8080</c>) that may be on private addresses, as
    /// written in the URL; every other host must resolve to public addresses only.</summary>
    public List<string> AllowedPrivateHosts { get; set; } = [];

    /// <summary>The <c>User-Agent</c> sent (default <c>Qlaud-WebFetch/1.0</c>).</summary>
    public string UserAgent { get; set; } = "Qlaud-WebFetch/1.0";
}
