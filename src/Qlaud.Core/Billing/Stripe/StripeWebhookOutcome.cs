namespace Qlaud.Billing.Stripe;

/// <summary>What the webhook did with a delivery.</summary>
internal enum StripeWebhookOutcome
{
    /// <summary>The event credited or debited a wallet (200).</summary>
    Applied,

    /// <summary>The event's money had already been applied; nothing changed (200).</summary>
    Duplicate,

    /// <summary>The event names no known account: recorded, nothing credited (200).</summary>
    UnknownAccount,

    /// <summary>An event type or state that moves no wallet money (200).</summary>
    Ignored,

    /// <summary>The signature did not verify; nothing changed (400).</summary>
    InvalidSignature,

    /// <summary>Correctly signed, but not a readable Stripe event; nothing changed (400).</summary>
    InvalidPayload,
}
