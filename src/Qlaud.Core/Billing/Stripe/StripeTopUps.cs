using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Stripe.Checkout;

namespace Qlaud.Billing.Stripe;

/// <summary>Wallet top-ups with Stripe Checkout: checks the amount against the configured limits and creates the session.</summary>
/// <remarks>Creating a session moves no money and changes no balance: the wallet is credited only by the signed
/// <c>checkout.session.completed</c> (or <c>async_payment_succeeded</c>) webhook, for the amount actually paid.</remarks>
internal sealed class StripeTopUps(StripeCheckoutClient client, IOptions<QlaudOptions> options, IWalletLedger? ledger = null)
{
    /// <summary>Why top-ups cannot be offered (the 501 message), or null when they can.</summary>
    public string? UnavailableReason
    {
        get
        {
            var stripe = options.Value.Stripe;
            if (string.IsNullOrWhiteSpace(stripe.SecretKey) || string.IsNullOrWhiteSpace(stripe.WebhookSecret))
            {
                return "Stripe top-ups are not configured. Set Qlaud:Stripe:SecretKey (sk_…) and Qlaud:Stripe:WebhookSecret (whsec_…), "
                    + "and point a Stripe webhook at /v1/stripe/webhook.";
            }

            return ledger is null ? StripeWebhookProcessor.NoLedgerMessage : null;
        }
    }

    public StripeOptions Options => options.Value.Stripe;

    /// <summary>What a top-up amount must be, naming the limits and presets: the 400 message for a bad amount.</summary>
    public string AmountRule
    {
        get
        {
            var stripe = Options;
            return $"'amount_usd' must be from {Usd(stripe.MinTopUpUsd)} to {Usd(stripe.MaxTopUpUsd)} in whole cents; "
                + $"preset amounts: {string.Join(", ", stripe.EffectivePresetAmountsUsd.Select(Usd))}.";
        }
    }

    /// <summary>Checks a requested amount; returns <see cref="AmountRule"/> when it is not acceptable, or null when it is.</summary>
    public string? CheckAmount(decimal amountUsd)
    {
        var stripe = Options;
        return amountUsd >= stripe.MinTopUpUsd && amountUsd <= stripe.MaxTopUpUsd && decimal.Round(amountUsd, 2) == amountUsd ? null : AmountRule;
    }

    /// <summary>The <c>Idempotency-Key</c> sent to Stripe.</summary>
    /// <param name="accountId">The account topping up.</param>
    /// <param name="clientKey">The caller's own <c>Idempotency-Key</c>, if it sent one.</param>
    /// <remarks>
    /// With a caller key, the same caller key for the same account always gives the same Stripe key, so a retried top-up returns
    /// the first session instead of creating a second (and a reused key with another amount is refused by Stripe). It is
    /// hashed with the account id so two accounts' keys never collide and the result always fits Stripe's 255 characters.
    /// Without one, every top-up is new.
    /// </remarks>
    public static string IdempotencyKey(string accountId, string? clientKey)
    {
        if (string.IsNullOrEmpty(clientKey))
        {
            return "qlaud-topup-" + Guid.NewGuid().ToString("N");
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(accountId + "\n" + clientKey));
        return "qlaud-topup-" + Convert.ToHexStringLower(hash);
    }

    /// <summary>Creates the Checkout Session for a checked amount.</summary>
    /// <exception cref="StripeException">Stripe refused or could not be reached.</exception>
    public Task<Session> CreateAsync(string accountId, decimal amountUsd, string successUrl, string cancelUrl, string idempotencyKey, CancellationToken cancellationToken)
    {
        var stripe = Options;
        long cents = (long)(amountUsd * 100m);
        var request = new StripeCheckoutSessionCreate(accountId, cents, stripe.Currency.ToLowerInvariant(), stripe.ProductName, successUrl, cancelUrl);
        return client.CreateCheckoutSessionAsync(request, idempotencyKey, cancellationToken);
    }

    /// <summary>Retrieves a session; null when it does not belong to <paramref name="accountId"/> (answered as not found).</summary>
    /// <exception cref="StripeException">Stripe refused (<c>resource_missing</c>) or could not be reached.</exception>
    public async Task<Session?> GetAsync(string accountId, string sessionId, CancellationToken cancellationToken)
    {
        var session = await client.GetCheckoutSessionAsync(sessionId, cancellationToken).ConfigureAwait(false);
        return StripeWebhookProcessor.AccountOf(session.Metadata, session.ClientReferenceId) == accountId ? session : null;
    }

    internal static string Usd(decimal amount) => "$" + amount.ToString(decimal.Round(amount) == amount ? "0" : "0.00", CultureInfo.InvariantCulture);
}
