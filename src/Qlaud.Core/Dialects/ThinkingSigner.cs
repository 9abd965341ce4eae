using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Qlaud.Dialects;

/// <summary>
/// Signs the <c>thinking</c> blocks Qlaud writes for an Anthropic client from another dialect's reasoning, and verifies them
/// when the client sends them back: the signature is the base64 HMAC-SHA256 of the thinking text (UTF-8) under the gateway's
/// secret.
/// </summary>
internal sealed class ThinkingSigner
{
    private const int MacLength = 32;
    private const int StackLimit = 1024;

    private readonly byte[] _key;

    /// <summary>Creates a signer for <paramref name="key"/> (the HMAC key bytes).</summary>
    public ThinkingSigner(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        _key = key;
    }

    /// <summary>The signature of <paramref name="thinking"/>.</summary>
    public string Sign(string thinking)
    {
        Span<byte> mac = stackalloc byte[MacLength];
        Compute(thinking, mac);
        return Convert.ToBase64String(mac);
    }

    /// <summary>Whether <paramref name="signature"/> is the signature Qlaud gives <paramref name="thinking"/>.</summary>
    public bool Verify(string thinking, string? signature)
    {
        Span<byte> given = stackalloc byte[MacLength + 2];
        if (string.IsNullOrEmpty(signature) || !Convert.TryFromBase64String(signature, given, out int length) || length != MacLength)
        {
            return false;
        }

        Span<byte> mac = stackalloc byte[MacLength];
        Compute(thinking, mac);
        return CryptographicOperations.FixedTimeEquals(mac, given[..MacLength]);
    }

    /// <summary>A signature computed over text that arrives in pieces (a streamed thinking block).</summary>
    public Incremental BeginIncremental() => new(IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _key));

    private void Compute(string text, Span<byte> mac)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[]? rented = max > StackLimit ? ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> bytes = rented ?? stackalloc byte[StackLimit];
        int written = Encoding.UTF8.GetBytes(text, bytes);
        HMACSHA256.HashData(_key, bytes[..written], mac);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Signs one streamed block at a time: <see cref="Append"/> its text deltas, then <see cref="Finish"/>.</summary>
    internal sealed class Incremental(IncrementalHash hash) : IDisposable
    {
        public void Append(string text)
        {
            int max = Encoding.UTF8.GetMaxByteCount(text.Length);
            byte[]? rented = max > StackLimit ? ArrayPool<byte>.Shared.Rent(max) : null;
            Span<byte> bytes = rented ?? stackalloc byte[StackLimit];
            int written = Encoding.UTF8.GetBytes(text, bytes);
            hash.AppendData(bytes[..written]);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        /// <summary>The signature of everything appended since the last call; starts over for the next block.</summary>
        public string Finish()
        {
            Span<byte> mac = stackalloc byte[MacLength];
            hash.GetHashAndReset(mac);
            return Convert.ToBase64String(mac);
        }

        public void Dispose() => hash.Dispose();
    }
}
