namespace Qlaud.Billing.Stripe;

/// <summary>The result of one webhook delivery.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Message">Why (for the response and the log; never a secret).</param>
/// <param name="EventId">The event id, once the signature verified.</param>
/// <param name="EventType">The event type, once the signature verified.</param>
/// <param name="AmountMicros">The signed wallet change the event asked for (0 when none).</param>
internal sealed record StripeWebhookResult(StripeWebhookOutcome Outcome, string Message, string? EventId = null, string? EventType = null, long AmountMicros = 0)
{
    /// <summary>Whether the delivery is refused (400), so Stripe shows it as failed.</summary>
    public bool IsRejected => Outcome is StripeWebhookOutcome.InvalidSignature or StripeWebhookOutcome.InvalidPayload;
}
