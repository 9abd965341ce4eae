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
    long CreatedAtMs)
{
    public bool IsRevoked => RevokedAtMs is not null;

    public static ApiKeyRecord From(ApiKeyEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        LimitResetPeriods.TryParse(entity.LimitReset, out var reset);
        return new ApiKeyRecord(entity.Id, entity.AccountId, entity.Name, entity.Scope == "admin" ? KeyScope.Admin : KeyScope.Standard,
            entity.EndUserId, entity.Prefix, entity.MaxSpendMicros, reset, entity.ExpiresAtMs, entity.RpmLimit, entity.TpmLimit,
            entity.Disabled, entity.RevokedAtMs, entity.CreatedAtMs);
    }

    /// <summary>Why the key may not be used at <paramref name="nowMs"/>, or null when it may.</summary>
    public QlaudError? UnusableReason(long nowMs) =>
        IsRevoked ? new QlaudError(QlaudErrorKind.Authentication, "Invalid API key: it was revoked.", "invalid_api_key")
        : Disabled ? new QlaudError(QlaudErrorKind.Authentication, "This API key is disabled.", "key_disabled")
        : ExpiresAtMs is { } expires && expires <= nowMs ? new QlaudError(QlaudErrorKind.Authentication, "This API key has expired.", "key_expired")
        : null;
}
