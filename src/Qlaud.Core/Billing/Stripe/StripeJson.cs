using System.Text.Json;
using System.Text.Json.Serialization;

namespace Qlaud.Billing.Stripe;

/// <summary>The fields Qlaud reads from Stripe's JSON, source-generated (snake_case, as Stripe sends them).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(StripeEvent))]
[JsonSerializable(typeof(StripeCheckoutSession))]
[JsonSerializable(typeof(StripeCharge))]
[JsonSerializable(typeof(StripeErrorEnvelope))]
internal sealed partial class StripeJsonContext : JsonSerializerContext;

/// <summary>A webhook event: <c>{"id":"evt_…","object":"event","type":"…","data":{"object":{…}}}</c>.</summary>
internal sealed class StripeEvent
{
    public string? Id { get; init; }

    public string? Type { get; init; }

    public bool Livemode { get; init; }

    public long Created { get; init; }

    public string? ApiVersion { get; init; }

    public StripeEventData? Data { get; init; }
}

/// <summary>The <c>data</c> of an event: the object as it was when the event happened.</summary>
internal sealed class StripeEventData
{
    public JsonElement Object { get; init; }
}

/// <summary>A Checkout Session (the fields Qlaud uses).</summary>
internal sealed class StripeCheckoutSession
{
    public string? Id { get; init; }

    /// <summary>The hosted Checkout page to send the payer to; null once the session is complete or expired.</summary>
    public string? Url { get; init; }

    /// <summary><c>open</c>, <c>complete</c> or <c>expired</c>.</summary>
    public string? Status { get; init; }

    /// <summary><c>paid</c>, <c>unpaid</c> or <c>no_payment_required</c>.</summary>
    public string? PaymentStatus { get; init; }

    public string? Mode { get; init; }

    /// <summary>The total in the currency's smallest unit (cents), after discounts and taxes: what was actually charged.</summary>
    public long? AmountTotal { get; init; }

    public string? Currency { get; init; }

    public string? ClientReferenceId { get; init; }

    public Dictionary<string, string>? Metadata { get; init; }

    /// <summary>The PaymentIntent id (a string), or the object when expanded; null until the payer confirms.</summary>
    public JsonElement? PaymentIntent { get; init; }

    public long? ExpiresAt { get; init; }

    public long Created { get; init; }

    public bool Livemode { get; init; }

    public string? PaymentIntentId => StripeIds.Of(PaymentIntent);
}

/// <summary>A Charge (the fields Qlaud uses); <c>charge.refunded</c> carries one.</summary>
internal sealed class StripeCharge
{
    public string? Id { get; init; }

    public long Amount { get; init; }

    /// <summary>The cumulative amount refunded so far, in cents (partial refunds add up).</summary>
    public long AmountRefunded { get; init; }

    public bool Refunded { get; init; }

    public string? Currency { get; init; }

    /// <summary>Copied from the PaymentIntent's metadata when it was confirmed: where <c>account_id</c> is found.</summary>
    public Dictionary<string, string>? Metadata { get; init; }

    public JsonElement? PaymentIntent { get; init; }

    public string? PaymentIntentId => StripeIds.Of(PaymentIntent);
}

/// <summary>Stripe's error body: <c>{"error":{"type","code","message","param",…}}</c>.</summary>
internal sealed class StripeErrorEnvelope
{
    public StripeErrorBody? Error { get; init; }
}

/// <summary>The <c>error</c> object of <see cref="StripeErrorEnvelope"/>.</summary>
internal sealed class StripeErrorBody
{
    public string? Type { get; init; }

    public string? Code { get; init; }

    public string? DeclineCode { get; init; }

    public string? Message { get; init; }

    public string? Param { get; init; }
}

/// <summary>Reads an id from a field that holds either the id or, when expanded, the object.</summary>
internal static class StripeIds
{
    public static string? Of(JsonElement? value) => value switch
    {
        { ValueKind: JsonValueKind.String } id => id.GetString(),
        { ValueKind: JsonValueKind.Object } obj when obj.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String => id.GetString(),
        _ => null,
    };
}
