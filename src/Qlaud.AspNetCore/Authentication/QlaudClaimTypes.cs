namespace Qlaud.AspNetCore;

/// <summary>The claims of a principal authenticated with a Qlaud key.</summary>
public static class QlaudClaimTypes
{
    /// <summary>The account the key belongs to.</summary>
    public const string AccountId = "qlaud:account_id";

    /// <summary>The key's id (<c>key_…</c>, or <c>master</c> for the bootstrap key); never its secret.</summary>
    public const string KeyId = "qlaud:key_id";

    /// <summary>The key's scope: <c>operator</c> (the bootstrap key), <c>master</c> (an account's master key), <c>admin</c> or
    /// <c>standard</c> (an end user's key). Also the identity's role claim type.</summary>
    public const string Scope = "qlaud:scope";

    /// <summary>The end user the key belongs to, when it has one.</summary>
    public const string EndUserId = "qlaud:end_user_id";
}
