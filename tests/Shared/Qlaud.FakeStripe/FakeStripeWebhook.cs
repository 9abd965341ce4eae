using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Qlaud.FakeStripe;

/// <summary>Builds webhook event payloads and signs them the way Stripe documents.</summary>
/// <remarks>
/// The signature scheme, written independently of the gateway's verifier: <c>Stripe-Signature: t={unix seconds},v1={hex}</c>,
/// where the hex is HMAC-SHA256 keyed with the endpoint secret's UTF-8 bytes over <c>{t}.{payload}</c>.
/// </remarks>
public static class FakeStripeWebhook
{
    /// <summary>An event envelope around <paramref name="objectJson"/>, as Stripe posts it.</summary>
    /// <param name="type">The event type, for example <c>checkout.session.completed</c>.</param>
    /// <param name="objectJson">The object (<c>data.object</c>), for example from <see cref="FakeStripeServer.CompleteSession"/>.</param>
    /// <param name="eventId">The event id; a new <c>evt_test_…</c> when null.</param>
    public static string Event(string type, string objectJson, string? eventId = null)
    {
        using var data = JsonDocument.Parse(objectJson);
        return FakeStripeServer.Render(w =>
        {
            w.WriteString("id", eventId ?? FakeStripeServer.NewId("evt_test_"));
            w.WriteString("object", "event");
            w.WriteString("api_version", "2025-01-27.acacia");
            w.WriteNumber("created", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            w.WriteStartObject("data");
            w.WritePropertyName("object");
            data.RootElement.WriteTo(w);
            w.WriteEndObject();
            w.WriteBoolean("livemode", false);
            w.WriteNumber("pending_webhooks", 1);
            w.WriteStartObject("request");
            w.WriteNull("id");
            w.WriteNull("idempotency_key");
            w.WriteEndObject();
            w.WriteString("type", type);
        });
    }

    /// <summary>The <c>Stripe-Signature</c> header for <paramref name="payload"/>: <c>t=…,v1=…</c>.</summary>
    /// <param name="payload">The exact body that will be posted.</param>
    /// <param name="secret">The endpoint's signing secret (<c>whsec_…</c>).</param>
    /// <param name="timestamp">The signing time; now when null.</param>
    public static string Sign(string payload, string secret, DateTimeOffset? timestamp = null)
    {
        long t = (timestamp ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        return string.Create(CultureInfo.InvariantCulture, $"t={t},v1={Signature(payload, secret, t)}");
    }

    /// <summary>The hex HMAC-SHA256 of <c>{timestamp}.{payload}</c> keyed with <paramref name="secret"/>.</summary>
    /// <param name="payload">The body.</param>
    /// <param name="secret">The signing secret.</param>
    /// <param name="timestamp">Unix seconds.</param>
    public static string Signature(string payload, string secret, long timestamp)
    {
        var signed = Encoding.UTF8.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + "." + payload);
        return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed));
    }
}
