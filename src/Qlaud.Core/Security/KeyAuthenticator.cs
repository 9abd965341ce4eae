using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Security;

/// <summary>Resolves a presented API key to a <see cref="QlaudCaller"/>: the bootstrap master key or a minted key.</summary>
/// <remarks>
/// Keys are identified by their SHA-256 hash only; the secret is never stored or logged. The bootstrap master key
/// (<c>Qlaud:Bootstrap:MasterKey</c>) is compared in constant time; it is the gateway's operator and administers the default
/// account (<see cref="KeyScope.Operator"/>). Minted keys are
/// looked up in the <see cref="KeyRegistry"/>, an in-memory index: a known key costs no database round trip, and a key
/// revoked, disabled or changed on this node takes effect at once.
/// </remarks>
internal sealed class KeyAuthenticator
{
    private const int HashHexLength = SHA256.HashSizeInBytes * 2;

    private static readonly QlaudCaller MasterCaller = new(AccountEntity.DefaultId, QlaudCallerExtensions.MasterKeyId, null, IsMaster: true);

    private readonly byte[]? _masterKeyHash;
    private readonly KeyRegistry _keys;
    private readonly TimeProvider _time;

    public KeyAuthenticator(IOptions<QlaudOptions> options, KeyRegistry keys, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _keys = keys;
        _time = time;
        if (options.Value.Bootstrap.MasterKey is { Length: > 0 } key)
        {
            _masterKeyHash = Hash(key);
        }
    }

    /// <summary>Whether a master key is configured (without one no key can be minted either).</summary>
    public bool HasKeys => _masterKeyHash is not null;

    /// <summary>Authenticates <paramref name="key"/>; completes synchronously for the master key, keys this node has seen and
    /// unknown keys it recently looked up.</summary>
    public ValueTask<KeyAuthentication> AuthenticateAsync(ReadOnlySpan<char> key, CancellationToken cancellationToken)
        => AuthenticateAsync(key, allowStorageLookup: true, cancellationToken);

    /// <summary>Authenticates <paramref name="key"/>; with <paramref name="allowStorageLookup"/> false a key this node cannot
    /// decide from memory is <see cref="KeyAuthentication.Undecided"/> instead of a database lookup.</summary>
    public ValueTask<KeyAuthentication> AuthenticateAsync(ReadOnlySpan<char> key, bool allowStorageLookup, CancellationToken cancellationToken)
    {
        if (key.IsEmpty || key.Length > 512)
        {
            return ValueTask.FromResult(KeyAuthentication.Unknown);
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        HashInto(key, hash);
        if (_masterKeyHash is not null && CryptographicOperations.FixedTimeEquals(hash, _masterKeyHash))
        {
            return ValueTask.FromResult(new KeyAuthentication(MasterCaller, null, KeyScope.Operator));
        }

        if (!key.StartsWith("qlk_", StringComparison.Ordinal))
        {
            return ValueTask.FromResult(KeyAuthentication.Unknown);
        }

        Span<char> hex = stackalloc char[HashHexLength];
        Convert.TryToHexStringLower(hash, hex, out _);
        if (!allowStorageLookup)
        {
            return ValueTask.FromResult(_keys.TryFindInMemory(hex, out var cached) ? Resolve(cached) : KeyAuthentication.Undecided);
        }

        var lookup = _keys.FindByHashAsync(hex, cancellationToken);
        return lookup.IsCompletedSuccessfully ? ValueTask.FromResult(Resolve(lookup.Result)) : AwaitAsync(lookup);
    }

    private async ValueTask<KeyAuthentication> AwaitAsync(ValueTask<KeyState?> lookup) => Resolve(await lookup.ConfigureAwait(false));

    private KeyAuthentication Resolve(KeyState? state)
    {
        if (state is null)
        {
            return KeyAuthentication.Unknown;
        }

        var record = state.Record;
        if (record.UnusableReason(_time.GetUtcNow().ToUnixTimeMilliseconds()) is { } error)
        {
            return new KeyAuthentication(null, error);
        }

        return new KeyAuthentication(
            new QlaudCaller(record.AccountId, record.Id, record.EndUserId, IsMaster: record.Scope >= KeyScope.Master) { IsAdminScope = record.Scope == KeyScope.Admin },
            null, record.Scope);
    }

    /// <summary>The SHA-256 of a key's UTF-8 bytes: all that is kept of a key.</summary>
    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>The lower-case hex SHA-256 of a key, as stored.</summary>
    public static string HashHex(string key) => Convert.ToHexStringLower(Hash(key));

    /// <summary>Generates a new key: <c>qlk_live_</c> and 32 random bytes in base62 (43 characters).</summary>
    public static string Generate()
    {
        const string alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        return "qlk_live_" + RandomNumberGenerator.GetString(alphabet, 43);
    }

    private static void HashInto(ReadOnlySpan<char> key, Span<byte> hash)
    {
        int max = Encoding.UTF8.GetMaxByteCount(key.Length);
        Span<byte> utf8 = max <= 1024 ? stackalloc byte[max] : new byte[max];
        int length = Encoding.UTF8.GetBytes(key, utf8);
        SHA256.HashData(utf8[..length], hash);
    }
}
