namespace Qlaud;

/// <summary>Who is calling: the account, the key and the end user a request is metered to.</summary>
/// <param name="AccountId">The account that owns the key.</param>
/// <param name="KeyId">The key's id (not its secret); null for in-process calls without a key.</param>
/// <param name="EndUserId">The app's end user the key belongs to, if any.</param>
/// <param name="IsMaster">Whether the key administers the account.</param>
public sealed record QlaudCaller(string AccountId, string? KeyId, string? EndUserId, bool IsMaster)
{
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
