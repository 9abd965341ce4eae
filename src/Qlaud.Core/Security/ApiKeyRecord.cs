using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Security;

/// <summary>An immutable snapshot of a minted key's settings, swapped as a whole when the key is changed.</summary>
internal sealed record ApiKeyRecord(
    string Id,
    string AccountId,
    string? Name,
    KeyScope Scope,
    string? EndUserId,
    string Prefix,
    long? MaxSpendMicros,
    LimitReset LimitReset,
    long? ExpiresAtMs,
    int? RpmLimit,
    int? TpmLimit,
    bool Disabled,
    long? RevokedAtMs,
    long CreatedAtMs,
    bool AccountDisabled = false)
{
    public bool IsRevoked => RevokedAtMs is not null;

    /// <param name="entity">The key's row.</param>
    /// <param name="accountDisabled">Whether the key's account is disabled (the account row's state).</param>
    public static ApiKeyRecord From(ApiKeyEntity entity, bool accountDisabled = false)
    {
        ArgumentNullException.ThrowIfNull(entity);
        LimitResetPeriods.TryParse(entity.LimitReset, out var reset);
        return new ApiKeyRecord(entity.Id, entity.AccountId, entity.Name, KeyScopes.FromStored(entity.Scope),
            entity.EndUserId, entity.Prefix, entity.MaxSpendMicros, reset, entity.ExpiresAtMs, entity.RpmLimit, entity.TpmLimit,
            entity.Disabled, entity.RevokedAtMs, entity.CreatedAtMs, accountDisabled);
    }

    /// <summary>Why the key may not be used at <paramref name="nowMs"/>, or null when it may.</summary>
    public QlaudError? UnusableReason(long nowMs) =>
        IsRevoked ? new QlaudError(QlaudErrorKind.Authentication, "Invalid API key: it was revoked.", "invalid_api_key")
        : Disabled ? new QlaudError(QlaudErrorKind.Authentication, "This API key is disabled.", "key_disabled")
        : AccountDisabled ? new QlaudError(QlaudErrorKind.Authentication, "This API key's account is disabled.", "account_disabled")
        : ExpiresAtMs is { } expires && expires <= nowMs ? new QlaudError(QlaudErrorKind.Authentication, "This API key has expired.", "key_expired")
        : null;
}
