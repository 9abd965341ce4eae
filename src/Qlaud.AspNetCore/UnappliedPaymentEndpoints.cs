using System.Globalization;
using Microsoft.AspNetCore.Http;
using Qlaud.Billing;
using Qlaud.Security;

namespace Qlaud.AspNetCore;

/// <summary>Handler for <c>GET /v1/wallet/unapplied</c>: external payments (Stripe top-ups and refunds) that named no existing
/// account, for the operator. Bootstrap master key only: the list spans every account.</summary>
/// <remarks>Query: <c>status</c> = <c>unapplied</c> (default: still waiting for their account), <c>applied</c> or <c>all</c>;
/// <c>limit</c> 1 to 1000 (default 100). Newest first. Mapped with the operator policy
/// (<c>Qlaud.Operator</c>).</remarks>
internal sealed class UnappliedPaymentEndpoints(UnappliedPaymentService payments)
{
    public async Task ListAsync(HttpContext context)
    {

        var query = context.Request.Query;
        string status = query["status"].ToString() is { Length: > 0 } s ? s : "unapplied";
        if (status is not ("unapplied" or "applied" or "all"))
        {
            await AdminHttp.BadRequestAsync(context, "'status' must be \"unapplied\" (the default), \"applied\" or \"all\".").ConfigureAwait(false);
            return;
        }

        int limit = 100;
        if (query.TryGetValue("limit", out var limitText) && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 1000))
        {
            await AdminHttp.BadRequestAsync(context, "'limit' must be a whole number from 1 to 1000.").ConfigureAwait(false);
            return;
        }

        bool? applied = status switch { "unapplied" => false, "applied" => true, _ => null };
        var list = await payments.ListAsync(applied, limit, context.RequestAborted).ConfigureAwait(false);

        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, list, static (w, list) =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var p in list)
            {
                w.WriteStartObject();
                w.WriteNumber("id", p.Id);
                w.WriteString("object", "wallet.unapplied_payment");
                w.WriteString("status", p.AppliedAtMs is null ? "unapplied" : "applied");
                BillingHttp.WriteStringOrNull(w, "account_id", p.AccountId);
                w.WriteString("kind", p.Kind == ExternalLedgerEntryKind.RefundDebit ? "refund" : "topup");
                AdminHttp.WriteUsd(w, "amount_usd", p.AmountMicros);
                w.WriteNumber("amount_micros", p.AmountMicros);
                w.WriteString("description", p.Description);
                w.WriteString("external_id", p.ExternalId);
                w.WriteString("event_id", p.EventId);
                BillingHttp.WriteStringOrNull(w, "checkout_session_id", p.CheckoutSessionId);
                BillingHttp.WriteStringOrNull(w, "payment_intent_id", p.PaymentIntentId);
                BillingHttp.WriteStringOrNull(w, "charge_id", p.ChargeId);
                AdminHttp.WriteTime(w, "created_at", p.CreatedAtMs);
                AdminHttp.WriteTime(w, "applied_at", p.AppliedAtMs);
                AdminHttp.WriteNumberOrNull(w, "ledger_entry_id", p.LedgerEntryId);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }
}
