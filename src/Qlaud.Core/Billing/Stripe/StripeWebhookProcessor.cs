using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using StripeApi = Stripe;
using StripeCheckout = Stripe.Checkout;

namespace Qlaud.Billing.Stripe;

/// <summary>Verifies and applies Stripe webhook deliveries to wallets through <see cref="IWalletLedger"/>.</summary>
/// <remarks>
/// <para><b>Signature first.</b> Nothing is parsed or applied before the <c>Stripe-Signature</c> header verifies
/// (Stripe.net's <see cref="StripeApi.EventUtility.ConstructEvent(string, string, string, long, long, bool)"/> with
/// <c>Qlaud:Stripe:SignatureToleranceSeconds</c> and the injected clock); a bad signature changes nothing.</para>
/// <para><b>Credits.</b> <c>checkout.session.completed</c> with <c>payment_status = paid</c>, and
/// <c>checkout.session.async_payment_succeeded</c> (bank debits and other delayed methods, whose <c>completed</c> event
/// arrives unpaid), credit the account in <c>metadata.account_id</c> (else <c>client_reference_id</c>) with
/// <c>amount_total</c>: what was actually charged, after any discount. The ledger key is the Checkout Session
/// (<c>stripe:checkout_session:{id}</c>), not the event, so a session credits once whichever of its events arrive, and
/// however often.</para>
/// <para><b>Refunds.</b> <c>charge.refunded</c> carries the charge's <i>cumulative</i> <c>amount_refunded</c> (since API version
/// 2022-11-15 the charge no longer embeds its refund objects). The debit is the part not yet debited for that charge:
/// <c>amount_refunded − already debited</c>. Each step is keyed by where it starts,
/// <c>stripe:charge:{id}:refunded_from:{already}</c>, so two deliveries that read the same starting point cannot both apply:
/// the loser gets <see cref="LedgerApplyResult.Duplicate"/>, reads again and debits only what is still missing. Partial and
/// multiple refunds therefore add up to exactly <c>amount_refunded</c>, under duplicates, concurrency and out-of-order
/// delivery (an older event with a smaller total debits nothing). A refund that later fails raises no <c>charge.refunded</c>
/// event; the operator corrects such a wallet by hand.</para>
/// <para><b>Unknown accounts</b> are passed to the ledger, which records them without crediting (listed by
/// <c>GET /v1/wallet/unapplied</c>, applied once the account exists); the answer is 200, so Stripe does not retry. <b>Other event types</b> are answered 200 and ignored. A ledger failure throws, the webhook answers 500,
/// and Stripe delivers the event again.</para>
/// </remarks>
internal sealed partial class StripeWebhookProcessor(IOptions<QlaudOptions> options, TimeProvider time, ILogger<StripeWebhookProcessor> logger, IWalletLedger? ledger = null)
{
    /// <summary>The 501 message when no wallet ledger is registered.</summary>
    public const string NoLedgerMessage =
        "Stripe top-ups need the wallet ledger (metering storage), which is not registered in this gateway.";

    private const long MicrosPerCent = 10_000;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>How often a refund step is retried when another delivery for the same charge won the race.</summary>
    private const int MaxRefundSteps = 8;

    /// <summary>Why the webhook cannot be served (the 501 message), or null when it can.</summary>
    public string? UnavailableReason
    {
        get
        {
            if (string.IsNullOrWhiteSpace(options.Value.Stripe.WebhookSecret))
            {
                return "The Stripe webhook is not configured. Set Qlaud:Stripe:WebhookSecret to the endpoint's signing secret (whsec_…).";
            }

            return ledger is null ? NoLedgerMessage : null;
        }
    }

    /// <summary>Verifies the signature of <paramref name="payload"/> and applies the event at most once.</summary>
    /// <param name="payload">The raw request body, exactly as received.</param>
    /// <param name="signatureHeader">The <c>Stripe-Signature</c> header, or null.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="InvalidOperationException">The webhook is not configured (check <see cref="UnavailableReason"/> first).</exception>
    public async ValueTask<StripeWebhookResult> ProcessAsync(ReadOnlyMemory<byte> payload, string? signatureHeader, CancellationToken cancellationToken)
    {
        var stripe = options.Value.Stripe;
        if (UnavailableReason is { } unavailable)
        {
            throw new InvalidOperationException(unavailable);
        }

        if (signatureHeader is null)
        {
            Log.SignatureRejected(logger, "no Stripe-Signature header");
            return new StripeWebhookResult(StripeWebhookOutcome.InvalidSignature, "Missing Stripe-Signature header.");
        }

        string json;
        try
        {
            json = StrictUtf8.GetString(payload.Span);
        }
        catch (DecoderFallbackException)
        {
            Log.SignatureRejected(logger, "the body is not UTF-8");
            return new StripeWebhookResult(StripeWebhookOutcome.InvalidSignature, "The body is not UTF-8, so it is not what Stripe signed.");
        }

        StripeApi.Event stripeEvent;
        try
        {
            // Stripe.net's verifier: any v1 signature may match (constant-time comparison), the signed timestamp must be within
            // the tolerance of now. The event is then read whatever its API version: events carry the webhook endpoint's version,
            // which need not be Stripe.net's pinned one, and the fields read here are the same in every version since 2022-11-15.
            stripeEvent = StripeApi.EventUtility.ConstructEvent(json, signatureHeader, stripe.WebhookSecret!, stripe.SignatureToleranceSeconds,
                time.GetUtcNow().ToUnixTimeSeconds(), throwOnApiVersionMismatch: false);
        }
        catch (StripeApi.StripeException ex)
        {
            // Stripe.net's message says which check failed; it never contains the secret or the expected signature.
            Log.SignatureRejected(logger, ex.Message);
            return new StripeWebhookResult(StripeWebhookOutcome.InvalidSignature, ex.Message);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException or FormatException or OverflowException)
        {
            // Signed, but not a readable event (verification ran first).
            Log.PayloadRejected(logger);
            return new StripeWebhookResult(StripeWebhookOutcome.InvalidPayload, "The payload is not a Stripe event (id, type and data.object are required).");
        }

        if (stripeEvent is not { Id: { Length: > 0 } eventId, Type: { Length: > 0 } eventType, Data.Object: not null })
        {
            Log.PayloadRejected(logger);
            return new StripeWebhookResult(StripeWebhookOutcome.InvalidPayload, "The payload is not a Stripe event (id, type and data.object are required).");
        }

        var result = eventType switch
        {
            "checkout.session.completed" or "checkout.session.async_payment_succeeded" => await CreditAsync(stripeEvent.Data.Object as StripeCheckout.Session, eventId, eventType, stripe, cancellationToken).ConfigureAwait(false),
            "charge.refunded" => await RefundAsync(stripeEvent.Data.Object as StripeApi.Charge, eventId, eventType, stripe, cancellationToken).ConfigureAwait(false),
            _ => new StripeWebhookResult(StripeWebhookOutcome.Ignored, $"Event type '{eventType}' moves no wallet money.", eventId, eventType),
        };
        if (result.Outcome == StripeWebhookOutcome.UnknownAccount)
        {
            Log.UnknownAccount(logger, eventId, eventType, result.AmountMicros, result.Message);
        }
        else
        {
            Log.Processed(logger, eventId, eventType, result.Outcome, result.AmountMicros, result.Message);
        }

        return result;
    }

    private async ValueTask<StripeWebhookResult> CreditAsync(StripeCheckout.Session? session, string eventId, string eventType, StripeOptions stripe, CancellationToken cancellationToken)
    {
        if (session?.Id is not { Length: > 0 } sessionId)
        {
            return new StripeWebhookResult(StripeWebhookOutcome.InvalidPayload, $"The {eventType} event's data.object is not a Checkout Session with an id.", eventId, eventType);
        }

        string? ignored = session switch
        {
            { Mode: not "payment" } => $"Session {sessionId} is in mode '{session.Mode}', not a one-off payment.",
            { PaymentStatus: not "paid" } => $"Session {sessionId} is not paid yet (payment_status '{session.PaymentStatus}'); a delayed payment is credited on checkout.session.async_payment_succeeded.",
            _ when !string.Equals(session.Currency, stripe.Currency, StringComparison.OrdinalIgnoreCase) => $"Session {sessionId} is in '{session.Currency}', not '{stripe.Currency}'.",
            { AmountTotal: not > 0 } => $"Session {sessionId} has no amount_total to credit.",
            _ => null,
        };
        if (ignored is not null)
        {
            return new StripeWebhookResult(StripeWebhookOutcome.Ignored, ignored, eventId, eventType);
        }

        long cents = session.AmountTotal!.Value;
        long micros = checked(cents * MicrosPerCent);
        var entry = new ExternalLedgerEntry(
            ExternalId: "stripe:checkout_session:" + sessionId,
            EventId: eventId,
            AccountId: AccountOf(session.Metadata, session.ClientReferenceId),
            AmountMicros: micros,
            Kind: ExternalLedgerEntryKind.TopUpCredit,
            Description: $"Stripe top-up of {Usd(cents)} (Checkout Session {sessionId})",
            CheckoutSessionId: sessionId,
            PaymentIntentId: session.PaymentIntentId);
        var applied = await ledger!.ApplyExternalAsync(entry, cancellationToken).ConfigureAwait(false);
        return Result(applied, entry, eventId, eventType);
    }

    private async ValueTask<StripeWebhookResult> RefundAsync(StripeApi.Charge? charge, string eventId, string eventType, StripeOptions stripe, CancellationToken cancellationToken)
    {
        if (charge?.Id is not { Length: > 0 } chargeId)
        {
            return new StripeWebhookResult(StripeWebhookOutcome.InvalidPayload, $"The {eventType} event's data.object is not a charge with an id.", eventId, eventType);
        }

        if (!string.Equals(charge.Currency, stripe.Currency, StringComparison.OrdinalIgnoreCase))
        {
            return new StripeWebhookResult(StripeWebhookOutcome.Ignored, $"Charge {chargeId} is in '{charge.Currency}', not '{stripe.Currency}'.", eventId, eventType);
        }

        long target = checked(charge.AmountRefunded * MicrosPerCent);
        string? accountId = AccountOf(charge.Metadata, null);
        for (int step = 0; step < MaxRefundSteps; step++)
        {
            long already = await ledger!.GetRefundedMicrosAsync(chargeId, cancellationToken).ConfigureAwait(false);
            if (target <= already)
            {
                return new StripeWebhookResult(StripeWebhookOutcome.Duplicate,
                    $"Charge {chargeId}: {Usd(charge.AmountRefunded)} refunded in total, all of it already debited.", eventId, eventType);
            }

            long cents = (target - already) / MicrosPerCent;
            var entry = new ExternalLedgerEntry(
                ExternalId: string.Create(CultureInfo.InvariantCulture, $"stripe:charge:{chargeId}:refunded_from:{already}"),
                EventId: eventId,
                AccountId: accountId,
                AmountMicros: -(target - already),
                Kind: ExternalLedgerEntryKind.RefundDebit,
                Description: $"Stripe refund of {Usd(cents)} (charge {chargeId}, {Usd(charge.AmountRefunded)} refunded in total)",
                PaymentIntentId: charge.PaymentIntentId,
                ChargeId: chargeId);
            var applied = await ledger.ApplyExternalAsync(entry, cancellationToken).ConfigureAwait(false);
            if (applied != LedgerApplyResult.Duplicate)
            {
                return Result(applied, entry, eventId, eventType);
            }

            // Another delivery for this charge applied a step from the same starting point first: read the total again.
        }

        throw new InvalidOperationException($"Refunds of charge {chargeId} kept changing while event {eventId} was applied; Stripe will deliver it again.");
    }

    /// <summary>The account an object names: <c>metadata.account_id</c>, else <c>client_reference_id</c>, else null.</summary>
    internal static string? AccountOf(Dictionary<string, string>? metadata, string? clientReferenceId)
    {
        if (metadata is not null && metadata.TryGetValue(StripeCheckoutSessionCreate.AccountIdMetadataKey, out var accountId) && !string.IsNullOrWhiteSpace(accountId))
        {
            return accountId;
        }

        return string.IsNullOrWhiteSpace(clientReferenceId) ? null : clientReferenceId;
    }

    private static StripeWebhookResult Result(LedgerApplyResult applied, ExternalLedgerEntry entry, string eventId, string eventType) => applied switch
    {
        LedgerApplyResult.Applied => new(StripeWebhookOutcome.Applied, $"{entry.Description} applied to account '{entry.AccountId}'.", eventId, eventType, entry.AmountMicros),
        LedgerApplyResult.Duplicate => new(StripeWebhookOutcome.Duplicate, $"{entry.Description} was already applied.", eventId, eventType, entry.AmountMicros),
        _ => new(StripeWebhookOutcome.UnknownAccount,
            entry.AccountId is null ? $"{entry.Description} names no account; recorded, nothing applied." : $"{entry.Description} names unknown account '{entry.AccountId}'; recorded, applied once the account exists.",
            eventId, eventType, entry.AmountMicros),
    };

    private static string Usd(long cents) => "$" + (cents / 100m).ToString("0.00", CultureInfo.InvariantCulture);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Stripe webhook delivery rejected: {Reason}")]
        public static partial void SignatureRejected(ILogger logger, string reason);

        [LoggerMessage(2, LogLevel.Warning, "Stripe webhook delivery rejected: signed, but not a readable Stripe event")]
        public static partial void PayloadRejected(ILogger logger);

        [LoggerMessage(3, LogLevel.Information, "Stripe event {EventId} ({EventType}): {Outcome}, {AmountMicros} micro-USD. {Detail}")]
        public static partial void Processed(ILogger logger, string eventId, string eventType, StripeWebhookOutcome outcome, long amountMicros, string detail);

        [LoggerMessage(4, LogLevel.Warning, "Stripe event {EventId} ({EventType}) for an unknown account, {AmountMicros} micro-USD: recorded for reconciliation, nothing applied. {Detail}")]
        public static partial void UnknownAccount(ILogger logger, string eventId, string eventType, long amountMicros, string detail);
    }
}
