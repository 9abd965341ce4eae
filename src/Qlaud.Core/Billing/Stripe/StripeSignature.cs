using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Qlaud.Billing.Stripe;

/// <summary>Verifies a webhook's <c>Stripe-Signature</c> header exactly as Stripe documents it.</summary>
/// <remarks>
/// <para>The header is <c>t=1492774577,v1=5257a8…,v1=…,v0=…</c>: comma-separated <c>key=value</c> elements, where <c>t</c> is
/// the Unix time the event was signed and each <c>v1</c> is a hex HMAC-SHA256, keyed with the endpoint's signing secret, of
/// <c>{t}.{raw request body}</c>. Other schemes (<c>v0</c>, test-mode-only) are ignored. Any one <c>v1</c> may match (Stripe
/// sends one per active secret while a secret is being rolled). Signatures are compared in constant time. The signed
/// timestamp must be within the tolerance of now, in either direction, so a captured request cannot be replayed later.</para>
/// <para>The payload must be the bytes as received: re-serialized JSON does not verify.</para>
/// </remarks>
internal static class StripeSignature
{
    /// <summary>The request header carrying the signature.</summary>
    public const string HeaderName = "Stripe-Signature";

    private const int SignatureBytes = 32; // HMAC-SHA256

    /// <summary>Checks <paramref name="header"/> against <paramref name="payload"/>.</summary>
    /// <param name="payload">The raw request body.</param>
    /// <param name="header">The <c>Stripe-Signature</c> header value, or null when absent.</param>
    /// <param name="secret">The endpoint's signing secret (<c>whsec_…</c>), used whole as the HMAC key.</param>
    /// <param name="now">The current time (from the injected <see cref="TimeProvider"/>).</param>
    /// <param name="tolerance">How far the signed timestamp may be from <paramref name="now"/>.</param>
    public static StripeSignatureStatus Verify(ReadOnlySpan<byte> payload, string? header, string secret, DateTimeOffset now, TimeSpan tolerance)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        if (string.IsNullOrWhiteSpace(header))
        {
            return StripeSignatureStatus.MissingHeader;
        }

        long? timestamp = null;
        bool sawV1 = false;
        byte[]? candidates = null; // v1 signatures, 32 bytes each
        int candidateCount = 0;
        try
        {
            foreach (var range in header.AsSpan().Split(','))
            {
                var element = header.AsSpan(range).Trim();
                int equals = element.IndexOf('=');
                if (equals <= 0)
                {
                    continue;
                }

                var key = element[..equals].Trim();
                var value = element[(equals + 1)..].Trim();
                if (key.SequenceEqual("t"))
                {
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long t) || (timestamp is { } earlier && earlier != t))
                    {
                        return StripeSignatureStatus.Malformed;
                    }

                    timestamp = t;
                }
                else if (key.SequenceEqual("v1"))
                {
                    sawV1 = true;
                    if (value.Length != SignatureBytes * 2)
                    {
                        continue; // cannot match; another v1 still may
                    }

                    candidates ??= ArrayPool<byte>.Shared.Rent(SignatureBytes * 4);
                    if ((candidateCount + 1) * SignatureBytes > candidates.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(candidates.Length * 2);
                        candidates.AsSpan(0, candidateCount * SignatureBytes).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(candidates);
                        candidates = larger;
                    }

                    if (Convert.FromHexString(value, candidates.AsSpan(candidateCount * SignatureBytes, SignatureBytes), out _, out int written) == OperationStatus.Done
                        && written == SignatureBytes)
                    {
                        candidateCount++;
                    }
                }
            }

            if (timestamp is not { } signedAt || !sawV1)
            {
                return StripeSignatureStatus.Malformed;
            }

            Span<byte> expected = stackalloc byte[SignatureBytes];
            ComputeSignature(payload, signedAt, secret, expected);
            bool match = false;
            for (int i = 0; i < candidateCount; i++)
            {
                // Every candidate is compared, so the time taken does not depend on which one matched.
                match |= CryptographicOperations.FixedTimeEquals(expected, candidates.AsSpan(i * SignatureBytes, SignatureBytes));
            }

            if (!match)
            {
                return StripeSignatureStatus.NoSignatureMatch;
            }

            long age = now.ToUnixTimeSeconds() - signedAt;
            return Math.Abs(age) > (long)tolerance.TotalSeconds ? StripeSignatureStatus.TimestampOutsideTolerance : StripeSignatureStatus.Valid;
        }
        finally
        {
            if (candidates is not null)
            {
                ArrayPool<byte>.Shared.Return(candidates);
            }
        }
    }

    /// <summary>HMAC-SHA256 of <c>{timestamp}.{payload}</c> keyed with the UTF-8 bytes of <paramref name="secret"/>.</summary>
    internal static void ComputeSignature(ReadOnlySpan<byte> payload, long timestamp, string secret, Span<byte> destination)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        Span<byte> prefix = stackalloc byte[24];
        timestamp.TryFormat(prefix, out int length, default, CultureInfo.InvariantCulture);
        prefix[length++] = (byte)'.';
        hmac.AppendData(prefix[..length]);
        hmac.AppendData(payload);
        hmac.GetHashAndReset(destination);
    }

    /// <summary>A message for the 400 answer; never echoes the secret or the expected signature.</summary>
    public static string Describe(StripeSignatureStatus status) => status switch
    {
        StripeSignatureStatus.MissingHeader => "Missing Stripe-Signature header.",
        StripeSignatureStatus.Malformed => "Malformed Stripe-Signature header: expected 't=<unix time>,v1=<hex HMAC-SHA256>'.",
        StripeSignatureStatus.NoSignatureMatch => "No v1 signature in the Stripe-Signature header matches the payload (wrong signing secret, or the body was changed).",
        StripeSignatureStatus.TimestampOutsideTolerance => "The Stripe-Signature timestamp is outside the tolerance window (a replayed event, or a wrong clock).",
        _ => "Valid.",
    };
}
