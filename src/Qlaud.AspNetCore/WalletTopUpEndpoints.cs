using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Qlaud.AspNetCore.Authentication;
using Qlaud.Billing.Stripe;
using Qlaud.Security;
using Stripe.Checkout;

namespace Qlaud.AspNetCore;

/// <summary>
/// Handlers for <c>POST /v1/wallet/topup</c> (create a Stripe Checkout Session), <c>GET /v1/wallet/topup/options</c>
/// (limits and preset amounts) and <c>GET /v1/wallet/topup/{id}</c> (a session's state). Policy
/// <see cref="QlaudAuthorizationPolicies.AccountMaster"/>.
/// </summary>
/// <remarks>Creating a session changes no balance: the wallet is credited by the signed webhook once Stripe reports the payment.</remarks>
internal sealed class WalletTopUpEndpoints(StripeTopUps topUps)
{
    private const int MaxUrlLength = 2048;
    private const int MaxIdempotencyKeyLength = 255;

    public async Task CreateAsync(HttpContext context)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;
        if (topUps.UnavailableReason is { } unavailable)
        {
            await BillingHttp.NotConfiguredAsync(context, unavailable).ConfigureAwait(false);
            return;
        }

        string? clientKey = context.Request.Headers["Idempotency-Key"].ToString() is { Length: > 0 } k ? k : null;
        if (clientKey is { Length: > MaxIdempotencyKeyLength })
        {
            await BillingHttp.BadRequestAsync(context, $"The Idempotency-Key header must be at most {MaxIdempotencyKeyLength} characters.").ConfigureAwait(false);
            return;
        }

        var (body, bodyError) = await QlaudHttp.ReadBodyAsync(context.Request, AdminHttp.MaxBody, context.RequestAborted).ConfigureAwait(false);
        if (bodyError is not null)
        {
            await QlaudHttp.WriteErrorAsync(context, BillingHttp.Errors, bodyError).ConfigureAwait(false);
            return;
        }

        decimal amount;
        string? successUrl, cancelUrl;
        using (body)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(body!.WrittenMemory);
            }
            catch (JsonException)
            {
                await BillingHttp.BadRequestAsync(context, "The request body must be a JSON object: {\"amount_usd\": 20, \"success_url\": \"…\", \"cancel_url\": \"…\"}.").ConfigureAwait(false);
                return;
            }

            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    await BillingHttp.BadRequestAsync(context, "The request body must be a JSON object: {\"amount_usd\": 20, \"success_url\": \"…\", \"cancel_url\": \"…\"}.").ConfigureAwait(false);
                    return;
                }

                if (!root.TryGetProperty("amount_usd", out var amountValue) || amountValue.ValueKind != JsonValueKind.Number || !amountValue.TryGetDecimal(out amount)
                    || topUps.CheckAmount(amount) is not null)
                {
                    await BillingHttp.BadRequestAsync(context, topUps.AmountRule, "invalid_amount").ConfigureAwait(false);
                    return;
                }

                successUrl = ReadUrl(root, "success_url");
                cancelUrl = ReadUrl(root, "cancel_url");
            }
        }

        if (successUrl is null || cancelUrl is null)
        {
            string name = successUrl is null ? "success_url" : "cancel_url";
            await BillingHttp.BadRequestAsync(context,
                $"'{name}' is required: an absolute http(s) URL of at most {MaxUrlLength} characters, where Checkout sends the payer "
                + (successUrl is null ? "after paying (it may contain {CHECKOUT_SESSION_ID})." : "who goes back without paying."),
                "invalid_url").ConfigureAwait(false);
            return;
        }

        Session session;
        try
        {
            session = await topUps.CreateAsync(caller.AccountId, amount, successUrl, cancelUrl, StripeTopUps.IdempotencyKey(caller.AccountId, clientKey), context.RequestAborted).ConfigureAwait(false);
        }
        catch (StripeException ex)
        {
            await BillingHttp.StripeFailedAsync(context, ex).ConfigureAwait(false);
            return;
        }

        await BillingHttp.WriteJsonAsync(context, StatusCodes.Status200OK, (session, caller.AccountId), static (w, s) => WriteSession(w, s.session, s.AccountId)).ConfigureAwait(false);
    }

    public async Task OptionsAsync(HttpContext context)
    {
        if (topUps.UnavailableReason is { } unavailable)
        {
            await BillingHttp.NotConfiguredAsync(context, unavailable).ConfigureAwait(false);
            return;
        }

        await BillingHttp.WriteJsonAsync(context, StatusCodes.Status200OK, topUps.Options, static (w, stripe) =>
        {
            w.WriteStartObject();
            w.WriteString("currency", stripe.Currency.ToLowerInvariant());
            w.WriteNumber("min_amount_usd", stripe.MinTopUpUsd);
            w.WriteNumber("max_amount_usd", stripe.MaxTopUpUsd);
            w.WriteStartArray("preset_amounts_usd");
            foreach (var preset in stripe.EffectivePresetAmountsUsd)
            {
                w.WriteNumberValue(preset);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    public async Task GetAsync(HttpContext context)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;
        string sessionId = context.Request.RouteValues["id"] as string ?? "";
        if (topUps.UnavailableReason is { } unavailable)
        {
            await BillingHttp.NotConfiguredAsync(context, unavailable).ConfigureAwait(false);
            return;
        }

        Session? session;
        try
        {
            session = await topUps.GetAsync(caller.AccountId, sessionId, context.RequestAborted).ConfigureAwait(false);
        }
        catch (StripeException ex)
        {
            await BillingHttp.StripeFailedAsync(context, ex).ConfigureAwait(false);
            return;
        }

        if (session is null)
        {
            await QlaudHttp.WriteErrorAsync(context, BillingHttp.Errors, new QlaudError(QlaudErrorKind.NotFound, $"No top-up '{sessionId}' for this account.", "not_found")).ConfigureAwait(false);
            return;
        }

        await BillingHttp.WriteJsonAsync(context, StatusCodes.Status200OK, (session, caller.AccountId), static (w, s) => WriteSession(w, s.session, s.AccountId)).ConfigureAwait(false);
    }

    private static string? ReadUrl(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 and <= MaxUrlLength } url)
        {
            return null;
        }

        // The URL is passed on as written: Stripe fills in templates such as {CHECKOUT_SESSION_ID} only when they are not escaped.
        return Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp) ? url : null;
    }

    private static void WriteSession(Utf8JsonWriter writer, Session session, string accountId)
    {
        writer.WriteStartObject();
        writer.WriteString("id", session.Id);
        writer.WriteString("object", "wallet.topup");
        writer.WriteString("account_id", accountId);
        BillingHttp.WriteStringOrNull(writer, "url", session.Url);
        BillingHttp.WriteUsdFromCents(writer, "amount_usd", session.AmountTotal);
        BillingHttp.WriteStringOrNull(writer, "currency", session.Currency);
        BillingHttp.WriteStringOrNull(writer, "status", session.Status);
        BillingHttp.WriteStringOrNull(writer, "payment_status", session.PaymentStatus);
        if (session.ExpiresAt > DateTime.UnixEpoch)
        {
            writer.WriteNumber("expires_at", new DateTimeOffset(DateTime.SpecifyKind(session.ExpiresAt, DateTimeKind.Utc)).ToUnixTimeSeconds());
        }
        else
        {
            writer.WriteNull("expires_at");
        }

        writer.WriteBoolean("livemode", session.Livemode);
        writer.WriteEndObject();
    }
}
