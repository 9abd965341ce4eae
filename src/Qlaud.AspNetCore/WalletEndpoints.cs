using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Qlaud.AspNetCore.Authentication;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for <c>GET /v1/wallet</c> (policy <see cref="QlaudAuthorizationPolicies.AccountAdmin"/>) and
/// <c>POST /v1/wallet/credit</c> (policy <see cref="QlaudAuthorizationPolicies.Operator"/>: money enters an account only through
/// the operator or a Stripe payment).</summary>
internal sealed class WalletEndpoints(WalletService wallets)
{
    private const decimal MaxAmountUsd = 1_000_000m;

    public async Task GetAsync(HttpContext context)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;

        int recent = 20;
        if (context.Request.Query.TryGetValue("limit", out var limitText) && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out recent) || recent is < 0 or > 1000))
        {
            await AdminHttp.BadRequestAsync(context, "'limit' must be a whole number from 0 to 1000.").ConfigureAwait(false);
            return;
        }

        var wallet = await wallets.GetAsync(caller.AccountId, recent, context.RequestAborted).ConfigureAwait(false);
        if (wallet is null)
        {
            await AdminHttp.NotFoundAsync(context, $"The account '{caller.AccountId}' has no wallet.").ConfigureAwait(false);
            return;
        }

        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, wallet, static (w, wallet) =>
        {
            w.WriteStartObject();
            w.WriteString("object", "wallet");
            w.WriteString("account_id", wallet.AccountId);
            w.WriteString("currency", "usd");
            AdminHttp.WriteUsd(w, "balance_usd", wallet.BalanceMicros);
            w.WriteNumber("balance_micros", wallet.BalanceMicros);
            AdminHttp.WriteUsd(w, "reserved_usd", wallet.ReservedMicros);
            w.WriteNumber("reserved_micros", wallet.ReservedMicros);
            AdminHttp.WriteUsd(w, "available_usd", wallet.AvailableMicros);
            w.WriteNumber("available_micros", wallet.AvailableMicros);
            w.WriteBoolean("enforced", wallet.Enforced);
            MeteringJson.WriteEntries(w, "recent_entries", wallet.RecentEntries);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    /// <summary><c>POST /v1/wallet/credit {amount_usd, note?, kind?, account_id?}</c>: an operator's credit (positive) or adjustment
    /// (either sign) to the default account or the account named.
    /// An <c>Idempotency-Key</c> header makes retries apply once.</summary>
    public async Task CreditAsync(HttpContext context)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;

        using var body = await AdminHttp.ReadObjectAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var root = body.RootElement;
        var kind = LedgerEntryKind.Credit;
        if (root.TryGetProperty("kind", out var kindValue))
        {
            switch (kindValue.ValueKind == JsonValueKind.String ? kindValue.GetString() : null)
            {
                case "credit":
                    break;
                case "adjustment":
                    kind = LedgerEntryKind.Adjustment;
                    break;
                default:
                    await AdminHttp.BadRequestAsync(context, "'kind' must be \"credit\" or \"adjustment\".").ConfigureAwait(false);
                    return;
            }
        }

        if (!root.TryGetProperty("amount_usd", out var amountValue) || amountValue.ValueKind != JsonValueKind.Number
            || !amountValue.TryGetDecimal(out decimal usd) || Math.Abs(usd) > MaxAmountUsd || !AdminHttp.TryMicros(usd, out long micros)
            || micros == 0 || (kind == LedgerEntryKind.Credit && micros < 0))
        {
            await AdminHttp.BadRequestAsync(context, kind == LedgerEntryKind.Credit
                ? $"'amount_usd' must be a number of USD above 0 and at most {MaxAmountUsd}, with at most 6 decimals (use kind \"adjustment\" to subtract)."
                : $"'amount_usd' must be a non-zero number of USD between -{MaxAmountUsd} and {MaxAmountUsd}, with at most 6 decimals.").ConfigureAwait(false);
            return;
        }

        string? note = root.TryGetProperty("note", out var noteValue) && noteValue.ValueKind == JsonValueKind.String ? noteValue.GetString() : null;
        if (note is { Length: > 1000 })
        {
            await AdminHttp.BadRequestAsync(context, "'note' is longer than 1000 characters.").ConfigureAwait(false);
            return;
        }

        // The operator credits its own (default) account unless the body names another.
        string accountId = caller.AccountId;
        if (root.TryGetProperty("account_id", out var accountValue))
        {
            if (accountValue.ValueKind != JsonValueKind.String || accountValue.GetString() is not { Length: > 0 and <= 64 } named)
            {
                await AdminHttp.BadRequestAsync(context, "'account_id' must be an account id (see GET /v1/accounts).").ConfigureAwait(false);
                return;
            }

            accountId = named;
        }

        string? idempotencyKey = context.Request.Headers["Idempotency-Key"].ToString() is { Length: > 0 and <= 200 } k ? "idempotency:" + accountId + ":" + k : null;
        var result = await wallets.ApplyAsync(new WalletChange(accountId, kind, micros, note, ExternalEventId: idempotencyKey), context.RequestAborted).ConfigureAwait(false);
        if (result is null)
        {
            await AdminHttp.NotFoundAsync(context, $"The account '{accountId}' has no wallet.").ConfigureAwait(false);
            return;
        }

        await AdminHttp.WriteJsonAsync(context, result.Duplicate ? StatusCodes.Status200OK : StatusCodes.Status201Created, result, static (w, r) =>
        {
            w.WriteStartObject();
            w.WriteString("object", "wallet_transaction");
            w.WriteBoolean("duplicate", r.Duplicate);
            AdminHttp.WriteUsd(w, "balance_usd", r.BalanceMicros);
            w.WriteNumber("balance_micros", r.BalanceMicros);
            w.WritePropertyName("entry");
            MeteringJson.WriteEntry(w, r.Entry);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }
}
