using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.Security;

/// <summary>Resolves a presented API key to a <see cref="QlaudCaller"/>.</summary>
/// <remarks>
/// Keys are compared by their SHA-256 hash in constant time; the secret itself is never stored or logged.
/// For now the bootstrap master key (<c>Qlaud:Bootstrap:MasterKey</c>) is the only key; minted end-user keys come with metering.
/// </remarks>
internal sealed class KeyAuthenticator
{
    private readonly byte[]? _masterKeyHash;

    public KeyAuthenticator(IOptions<QlaudOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Value.Bootstrap.MasterKey is { Length: > 0 } key)
        {
            _masterKeyHash = Hash(key);
        }
    }

    /// <summary>Whether any key is configured at all.</summary>
    public bool HasKeys => _masterKeyHash is not null;

    /// <summary>Authenticates <paramref name="key"/>; returns null for an unknown key.</summary>
    public QlaudCaller? Authenticate(ReadOnlySpan<char> key)
    {
        if (_masterKeyHash is null || key.IsEmpty)
        {
            return null;
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> utf8 = key.Length <= 256 ? stackalloc byte[Encoding.UTF8.GetMaxByteCount(key.Length)] : new byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        int length = Encoding.UTF8.GetBytes(key, utf8);
        SHA256.HashData(utf8[..length], hash);
        return CryptographicOperations.FixedTimeEquals(hash, _masterKeyHash) ? MasterCaller : null;
    }

    /// <summary>The SHA-256 of a key's UTF-8 bytes: all that is kept of a key.</summary>
    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Generates a new key: <c>qlk_live_</c> and 32 random bytes in base62 (about 43 characters).</summary>
    public static string Generate()
    {
        const string alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        return "qlk_live_" + RandomNumberGenerator.GetString(alphabet, 43);
    }

    private static readonly QlaudCaller MasterCaller = new("default", "master", null, IsMaster: true);
}
