namespace Qlaud;

/// <summary>Who is calling: the account, the key and the end user a request is metered to.</summary>
/// <param name="AccountId">The account that owns the key.</param>
/// <param name="KeyId">The key's id (not its secret); null for in-process calls without a key.</param>
/// <param name="EndUserId">The app's end user the key belongs to, if any.</param>
/// <param name="IsMaster">Whether the key administers the account.</param>
public sealed record QlaudCaller(string AccountId, string? KeyId, string? EndUserId, bool IsMaster)
{
    /// <summary>Whether the key is an admin-scope key: it administers the account's end-user keys and sees the account's
    /// threads, without being the account's master.</summary>
    public bool IsAdminScope { get; init; }

    /// <summary>Whether the caller sees the whole account rather than one end user's data: a master key, an admin-scope key,
    /// or an in-process call without a key.</summary>
    public bool SeesAccount => IsMaster || IsAdminScope;

    /// <summary>The caller of in-process requests that name no key: the default account.</summary>
    public static QlaudCaller InProcess { get; } = new("default", null, null, IsMaster: true);
}

/// <summary>Helpers on <see cref="QlaudCaller"/>.</summary>
internal static class QlaudCallerExtensions
{
    /// <summary>The key id the bootstrap master key authenticates as.</summary>
    public const string MasterKeyId = "master";

    /// <summary>Whether the caller is the bootstrap master key or an in-process call without a key: metered against the wallet only.</summary>
    public static bool IsMasterKey(this QlaudCaller caller) => caller.KeyId is null or MasterKeyId;
}
