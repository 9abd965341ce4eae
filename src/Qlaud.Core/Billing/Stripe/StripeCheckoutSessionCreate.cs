using System.Globalization;
using Stripe.Checkout;

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

    /// <summary>The Stripe.net options: Stripe.net encodes them as the form fields Stripe's API reference names
    /// (<c>line_items[0][price_data][unit_amount]</c>, <c>metadata[account_id]</c>, …).</summary>
    /// <remarks>
    /// The account id is also put on the PaymentIntent (<c>payment_intent_data[metadata]</c>): Stripe copies a PaymentIntent's
    /// metadata to the charge it creates, so a later <c>charge.refunded</c> event names the account too. Session metadata alone
    /// stays on the session.
    /// </remarks>
    public SessionCreateOptions ToOptions()
    {
        string usd = (AmountCents / 100m).ToString("0.00", CultureInfo.InvariantCulture);
        return new SessionCreateOptions
        {
            Mode = "payment",
            LineItems =
            [
                new SessionLineItemOptions
                {
                    PriceData = new SessionLineItemPriceDataOptions
                    {
                        Currency = Currency,
                        UnitAmount = AmountCents,
                        ProductData = new SessionLineItemPriceDataProductDataOptions { Name = ProductName },
                    },
                    Quantity = 1,
                },
            ],
            SuccessUrl = SuccessUrl,
            CancelUrl = CancelUrl,
            ClientReferenceId = AccountId,
            Metadata = new Dictionary<string, string> { [AccountIdMetadataKey] = AccountId, [TopUpUsdMetadataKey] = usd },
            PaymentIntentData = new SessionPaymentIntentDataOptions
            {
                Metadata = new Dictionary<string, string> { [AccountIdMetadataKey] = AccountId, [TopUpUsdMetadataKey] = usd },
            },
        };
    }
}
