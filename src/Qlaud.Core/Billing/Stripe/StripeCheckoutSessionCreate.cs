using System.Globalization;

namespace Qlaud.Billing.Stripe;

/// <summary>What a wallet top-up asks Stripe for: a one-off Checkout Session in <c>payment</c> mode.</summary>
/// <param name="AccountId">The account to credit: sent as <c>client_reference_id</c> and in the metadata.</param>
/// <param name="AmountCents">The amount in cents (the currency's smallest unit).</param>
/// <param name="Currency">The ISO currency code, lower case (<c>usd</c>).</param>
/// <param name="ProductName">The line item's name on the Checkout page.</param>
/// <param name="SuccessUrl">Where Checkout sends the payer after paying; may contain Stripe's <c>{CHECKOUT_SESSION_ID}</c> template.</param>
/// <param name="CancelUrl">Where Checkout sends the payer who goes back.</param>
internal sealed record StripeCheckoutSessionCreate(string AccountId, long AmountCents, string Currency, string ProductName, string SuccessUrl, string CancelUrl)
{
    /// <summary>The metadata key naming the account, on the session and (copied by Stripe to the charge) on the PaymentIntent.</summary>
    public const string AccountIdMetadataKey = "account_id";

    /// <summary>The metadata key with the requested amount in USD, for people reading the Dashboard.</summary>
    public const string TopUpUsdMetadataKey = "qlaud_topup_usd";

    /// <summary>The form fields, named as Stripe's API reference names them (bracketed keys for nested parameters).</summary>
    /// <remarks>
    /// The account id is also put on the PaymentIntent (<c>payment_intent_data[metadata]</c>): Stripe copies a PaymentIntent's
    /// metadata to the charge it creates, so a later <c>charge.refunded</c> event names the account too. Session metadata alone
    /// stays on the session.
    /// </remarks>
    public IReadOnlyList<KeyValuePair<string, string>> ToForm()
    {
        string amount = AmountCents.ToString(CultureInfo.InvariantCulture);
        string usd = (AmountCents / 100m).ToString("0.00", CultureInfo.InvariantCulture);
        return
        [
            new("mode", "payment"),
            new("line_items[0][price_data][currency]", Currency),
            new("line_items[0][price_data][unit_amount]", amount),
            new("line_items[0][price_data][product_data][name]", ProductName),
            new("line_items[0][quantity]", "1"),
            new("success_url", SuccessUrl),
            new("cancel_url", CancelUrl),
            new("client_reference_id", AccountId),
            new($"metadata[{AccountIdMetadataKey}]", AccountId),
            new($"metadata[{TopUpUsdMetadataKey}]", usd),
            new($"payment_intent_data[metadata][{AccountIdMetadataKey}]", AccountId),
            new($"payment_intent_data[metadata][{TopUpUsdMetadataKey}]", usd),
        ];
    }
}
