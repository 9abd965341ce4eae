using Microsoft.AspNetCore.Http;
using Qlaud.Billing.Stripe;
using Qlaud.Forwarding;

namespace Qlaud.AspNetCore;

/// <summary>Handler for <c>POST /v1/stripe/webhook</c>: no Qlaud key, authenticated by the <c>Stripe-Signature</c> header.</summary>
/// <remarks>400 when the signature does not verify (nothing changes); 200 for every verified event, applied or not (so
/// Stripe stops retrying); 500 when the wallet could not be written (so Stripe retries); 501 when not configured.</remarks>
internal sealed class StripeWebhookEndpoints(StripeWebhookProcessor processor)
{
    /// <summary>The largest webhook body accepted; Stripe's events are a few KiB.</summary>
    internal const int MaxBody = 1024 * 1024;

    public async Task HandleAsync(HttpContext context)
    {
        if (processor.UnavailableReason is { } unavailable)
        {
            await BillingHttp.NotConfiguredAsync(context, unavailable).ConfigureAwait(false);
            return;
        }

        var request = context.Request;
        if (request.ContentLength > MaxBody)
        {
            await BillingHttp.BadRequestAsync(context, $"The webhook body is larger than {MaxBody / 1024} KiB.", "request_too_large").ConfigureAwait(false);
            return;
        }

        using var body = new PooledBufferWriter(request.ContentLength is > 0 and <= MaxBody ? (int)request.ContentLength + 1 : 8 * 1024);
        if (!await body.ReadFromAsync(request.Body, MaxBody, context.RequestAborted).ConfigureAwait(false))
        {
            await BillingHttp.BadRequestAsync(context, $"The webhook body is larger than {MaxBody / 1024} KiB.", "request_too_large").ConfigureAwait(false);
            return;
        }

        string? signature = request.Headers["Stripe-Signature"].ToString() is { Length: > 0 } header ? header : null;
        var result = await processor.ProcessAsync(body.WrittenMemory, signature, context.RequestAborted).ConfigureAwait(false);
        if (result.IsRejected)
        {
            await BillingHttp.BadRequestAsync(context, result.Message,
                result.Outcome == StripeWebhookOutcome.InvalidSignature ? "invalid_signature" : "invalid_payload").ConfigureAwait(false);
            return;
        }

        await BillingHttp.WriteJsonAsync(context, StatusCodes.Status200OK, result, static (w, r) =>
        {
            w.WriteStartObject();
            w.WriteBoolean("received", true);
            w.WriteString("event_id", r.EventId);
            w.WriteString("outcome", r.Outcome switch
            {
                StripeWebhookOutcome.Applied => "applied",
                StripeWebhookOutcome.Duplicate => "duplicate",
                StripeWebhookOutcome.UnknownAccount => "unknown_account",
                _ => "ignored",
            });
            w.WriteString("message", r.Message);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }
}
