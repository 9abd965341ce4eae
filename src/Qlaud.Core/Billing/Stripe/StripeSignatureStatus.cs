namespace Qlaud.Billing.Stripe;

/// <summary>The outcome of checking a <c>Stripe-Signature</c> header.</summary>
internal enum StripeSignatureStatus
{
    /// <summary>A <c>v1</c> signature matches and the timestamp is within the tolerance.</summary>
    Valid,

    /// <summary>There is no <c>Stripe-Signature</c> header.</summary>
    MissingHeader,

    /// <summary>The header has no timestamp, an unreadable timestamp, or no <c>v1</c> signature.</summary>
    Malformed,

    /// <summary>No <c>v1</c> signature is the HMAC of this payload with the signing secret.</summary>
    NoSignatureMatch,

    /// <summary>A signature matches but its timestamp is outside the tolerance (a replay, or a badly wrong clock).</summary>
    TimestampOutsideTolerance,
}
