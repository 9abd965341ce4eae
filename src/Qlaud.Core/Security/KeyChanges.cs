using Qlaud.Metering;

namespace Qlaud.Security;

/// <summary>The settings of a key to mint.</summary>
internal sealed record NewKey(string? Name, KeyScope Scope, string? EndUserId, long? MaxSpendMicros, LimitReset LimitReset, long? ExpiresAtMs, int? RpmLimit, int? TpmLimit);

/// <summary>A change to a key: only the properties that are set change (a set property may set null, for example to remove a cap).</summary>
internal sealed class KeyPatch
{
    public Settable<string?> Name { get; init; }

    public Settable<long?> MaxSpendMicros { get; init; }

    public Settable<LimitReset> LimitReset { get; init; }

    public Settable<bool> Disabled { get; init; }

    public Settable<long?> ExpiresAtMs { get; init; }

    public Settable<int?> RpmLimit { get; init; }

    public Settable<int?> TpmLimit { get; init; }
}

/// <summary>A value that is either absent or set (possibly to null).</summary>
internal readonly record struct Settable<T>(bool IsSet, T Value)
{
    public static implicit operator Settable<T>(T value) => new(true, value);
}
