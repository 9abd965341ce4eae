namespace Qlaud.AspNetCore;

/// <summary>The authorization policies <c>AddQlaud()</c> registers; each <c>/v1</c> endpoint requires one of them.</summary>
/// <remarks>Every policy authenticates with <see cref="QlaudAuthenticationDefaults.AuthenticationScheme"/> only, so an app's own
/// default scheme is neither used nor changed; an app's <c>MapQlaud().RequireAuthorization(...)</c> adds its policy on top (both
/// must pass). The roles are those of the README's authorization matrix.</remarks>
public static class QlaudAuthorizationPolicies
{
    /// <summary>Any valid Qlaud key: models, chat, usage (an end-user key sees only its own).</summary>
    public const string AnyKey = "Qlaud.AnyKey";

    /// <summary>The bootstrap key, an account's master key or an admin-scope key: the account's keys, wallet and usage.</summary>
    public const string AccountAdmin = "Qlaud.AccountAdmin";

    /// <summary>The bootstrap key or an account's master key: Stripe top-ups.</summary>
    public const string AccountMaster = "Qlaud.AccountMaster";

    /// <summary>The bootstrap key only (<c>Qlaud:Bootstrap:MasterKey</c>): accounts and wallet credits.</summary>
    public const string Operator = "Qlaud.Operator";
}
