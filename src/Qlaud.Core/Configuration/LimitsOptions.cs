namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Limits</c> section: bounds that protect the gateway from misbehaving clients.</summary>
public sealed class LimitsOptions
{
    /// <summary>
    /// How many failed authentications (a wrong, revoked, disabled or expired key) one client address may make per minute
    /// before the gateway answers 429 with <c>retry-after</c> (default 60; 0 = no limit).
    /// </summary>
    /// <remarks>While an address is over the limit, only keys this node already holds in memory authenticate from it; anything
    /// else is answered 429 without a database lookup, until the minute is over. The address is the connection's remote
    /// address; behind a reverse proxy, apply ASP.NET Core's forwarded-headers middleware first so it is the client's.</remarks>
    public int FailedAuthPerMinute { get; set; } = 60;
}
