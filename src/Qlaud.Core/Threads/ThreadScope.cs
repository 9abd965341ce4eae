namespace Qlaud.Threads;

/// <summary>The threads a caller may see: its account, narrowed to one end user and/or to the threads one key created.</summary>
/// <param name="AccountId">The account.</param>
/// <param name="EndUserId">When set, only this end user's threads.</param>
/// <param name="KeyId">When set, only threads this key created.</param>
internal readonly record struct ThreadScope(string AccountId, string? EndUserId, string? KeyId)
{
    /// <summary>The scope of <paramref name="caller"/>: master and admin keys see the account (narrowed by
    /// <paramref name="endUserFilter"/>); an end-user key sees its end user's threads; a key without an end user, its own threads.</summary>
    public static ThreadScope For(QlaudCaller caller, string? endUserFilter = null) => caller switch
    {
        { SeesAccount: true } => new ThreadScope(caller.AccountId, endUserFilter, null),
        { EndUserId: { } endUser } => new ThreadScope(caller.AccountId, endUser, null),
        _ => new ThreadScope(caller.AccountId, null, caller.KeyId ?? ""),
    };
}
