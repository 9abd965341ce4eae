namespace Qlaud.Security;

/// <summary>What a key may do, lowest rank first.</summary>
/// <remarks>The roles, as the README's authorization matrix spells them out:
/// <list type="bullet">
/// <item><see cref="Standard"/>: an end user's key. Calls models; sees its own usage only.</item>
/// <item><see cref="Admin"/>: administers the end-user keys of its account (mint, change, revoke standard keys; read the
/// account's keys, wallet and usage). It cannot mint admin keys, change admin or master keys (its own cap included),
/// credit the wallet or start top-ups.</item>
/// <item><see cref="Master"/>: an account's master key, minted with the account (<c>POST /v1/accounts</c>). Everything in its
/// account: admin keys too, caps, Stripe top-ups. It cannot credit its own wallet (money enters through the operator or Stripe).</item>
/// <item><see cref="Operator"/>: the bootstrap key (<c>Qlaud:Bootstrap:MasterKey</c>), never stored. The master of the default
/// account, and the only key that creates, lists and disables accounts and credits wallets.</item>
/// </list></remarks>
internal enum KeyScope
{
    /// <summary>Calls models; metered against the key's cap and the account's wallet. Wire value <c>standard</c>.</summary>
    Standard,
    /// <summary>Administers the end-user keys of its account. Wire value <c>admin</c>.</summary>
    Admin,
    /// <summary>An account's master key. Wire value <c>master</c>; minted only with its account.</summary>
    Master,
    /// <summary>The bootstrap key of the gateway. Wire value <c>operator</c>; configured, never minted.</summary>
    Operator,
}

/// <summary>Wire names of <see cref="KeyScope"/>.</summary>
internal static class KeyScopes
{
    public static string ToWire(KeyScope scope) => scope switch
    {
        KeyScope.Admin => "admin",
        KeyScope.Master => "master",
        KeyScope.Operator => "operator",
        _ => "standard",
    };

    public static KeyScope FromStored(string? value) => value switch
    {
        "admin" => KeyScope.Admin,
        "master" => KeyScope.Master,
        _ => KeyScope.Standard,
    };
}
