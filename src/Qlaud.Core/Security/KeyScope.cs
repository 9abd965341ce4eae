namespace Qlaud.Security;

/// <summary>What a minted key may do.</summary>
internal enum KeyScope
{
    /// <summary>Calls models; metered against the key's cap and the account's wallet. Wire value <c>standard</c>.</summary>
    Standard,
    /// <summary>Administers the account like the master key (keys, wallet, usage). Wire value <c>admin</c>.</summary>
    Admin,
}
