using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Qlaud.AspNetCore.Authentication;
using Qlaud.Metering;
using Qlaud.Security;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for <c>/v1/keys</c>: mint, list, get, change, revoke and per-key usage (policy
/// <see cref="QlaudAuthorizationPolicies.AccountAdmin"/>).</summary>
/// <remarks>An admin-scope key mints, changes and revokes standard keys only: never an admin key (its own included, so it
/// cannot lift its own cap) and never the account's master key, which no key changes here.</remarks>
internal sealed class KeyEndpoints(KeyService keys)
{
    private const int DefaultPageSize = 20;
    private const int MaxPageSize = 100;

    public async Task CreateAsync(HttpContext context)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;

        using var body = await AdminHttp.ReadObjectAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var root = body.RootElement;
        string? name = null, endUser = null;
        var scope = KeyScope.Standard;
        long? cap = null, expires = null;
        var reset = LimitReset.None;
        int? rpm = null, tpm = null;
        foreach (var property in root.EnumerateObject())
        {
            var value = property.Value;
            string? problem = property.Name switch
            {
                "name" => ReadString(value, 200, out name),
                "scope" => ReadScope(value, out scope),
                "end_user_id" => ReadString(value, 256, out endUser),
                "max_spend_usd" => ReadCap(value, out cap),
                "limit_reset" => ReadReset(value, out reset),
                "expires_at" => AdminHttp.TryReadTime(value, out expires) ? null : "'expires_at' must be an ISO 8601 time or Unix seconds.",
                "rpm_limit" => ReadLimit(value, "rpm_limit", out rpm),
                "tpm_limit" => ReadLimit(value, "tpm_limit", out tpm),
                _ => null, // unknown fields are ignored on create, so clients of qlaud's hosted API work unchanged
            };
            if (problem is not null)
            {
                await AdminHttp.BadRequestAsync(context, problem).ConfigureAwait(false);
                return;
            }
        }

        if (scope > KeyScope.Standard && !caller.IsMaster)
        {
            await AdminHttp.ForbiddenAsync(context, "An admin-scope key mints standard keys only; admin keys are minted with the account's master key.").ConfigureAwait(false);
            return;
        }

        var (key, secret) = await keys.CreateAsync(caller.AccountId, new NewKey(name, scope, endUser, cap, reset, expires, rpm, tpm), context.RequestAborted).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status201Created, (key, secret), static (w, s) => MeteringJson.WriteKey(w, s.key, s.secret)).ConfigureAwait(false);
    }

    public async Task ListAsync(HttpContext context)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;

        var query = context.Request.Query;
        int limit = DefaultPageSize;
        if (query.TryGetValue("limit", out var limitText) && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxPageSize))
        {
            await AdminHttp.BadRequestAsync(context, $"'limit' must be a whole number from 1 to {MaxPageSize}.").ConfigureAwait(false);
            return;
        }

        string? cursor = query["cursor"].ToString() is { Length: > 0 } c ? c : query["starting_after"].ToString() is { Length: > 0 } s ? s : null;
        if (!KeyService.IsValidCursor(cursor))
        {
            await AdminHttp.BadRequestAsync(context, "'cursor' is not a cursor this endpoint returned (use next_cursor from the previous page).").ConfigureAwait(false);
            return;
        }

        var (page, next) = await keys.ListAsync(caller.AccountId, cursor, limit, context.RequestAborted).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, (page, next), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var key in s.page)
            {
                MeteringJson.WriteKey(w, key);
            }

            w.WriteEndArray();
            w.WriteBoolean("has_more", s.next is not null);
            w.WriteString("next_cursor", s.next);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    public async Task GetAsync(HttpContext context)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;

        var key = await keys.GetAsync(caller.AccountId, Id(context), context.RequestAborted).ConfigureAwait(false);
        await WriteKeyOr404Async(context, key).ConfigureAwait(false);
    }

    public async Task PatchAsync(HttpContext context)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;
        if (await RefuseChangeAsync(context, caller).ConfigureAwait(false))
        {
            return;
        }

        using var body = await AdminHttp.ReadObjectAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        Settable<string?> name = default;
        Settable<long?> cap = default, expires = default;
        Settable<LimitReset> reset = default;
        Settable<bool> disabled = default;
        Settable<int?> rpm = default, tpm = default;
        foreach (var property in body.RootElement.EnumerateObject())
        {
            var value = property.Value;
            string? problem;
            switch (property.Name)
            {
                case "name":
                    problem = ReadString(value, 200, out string? newName);
                    name = newName;
                    break;
                case "max_spend_usd":
                    problem = ReadCap(value, out long? newCap);
                    cap = newCap;
                    break;
                case "limit_reset":
                    problem = ReadReset(value, out var newReset);
                    reset = newReset;
                    break;
                case "disabled":
                    problem = value.ValueKind is JsonValueKind.True or JsonValueKind.False ? null : "'disabled' must be true or false.";
                    disabled = value.ValueKind == JsonValueKind.True;
                    break;
                case "expires_at":
                    problem = AdminHttp.TryReadTime(value, out long? newExpires) ? null : "'expires_at' must be an ISO 8601 time, Unix seconds or null.";
                    expires = newExpires;
                    break;
                case "rpm_limit":
                    problem = ReadLimit(value, "rpm_limit", out int? newRpm);
                    rpm = newRpm;
                    break;
                case "tpm_limit":
                    problem = ReadLimit(value, "tpm_limit", out int? newTpm);
                    tpm = newTpm;
                    break;
                default:
                    // A misspelt field in a change (a cap that silently stays) is worse than a 400.
                    problem = $"'{property.Name}' cannot be changed. Changeable: name, max_spend_usd, limit_reset, disabled, expires_at, rpm_limit, tpm_limit.";
                    break;
            }

            if (problem is not null)
            {
                await AdminHttp.BadRequestAsync(context, problem).ConfigureAwait(false);
                return;
            }
        }

        var patch = new KeyPatch { Name = name, MaxSpendMicros = cap, LimitReset = reset, Disabled = disabled, ExpiresAtMs = expires, RpmLimit = rpm, TpmLimit = tpm };
        var key = await keys.PatchAsync(caller.AccountId, Id(context), patch, context.RequestAborted).ConfigureAwait(false);
        await WriteKeyOr404Async(context, key).ConfigureAwait(false);
    }

    public async Task RevokeAsync(HttpContext context)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;
        if (await RefuseChangeAsync(context, caller).ConfigureAwait(false))
        {
            return;
        }

        var key = await keys.RevokeAsync(caller.AccountId, Id(context), context.RequestAborted).ConfigureAwait(false);
        await WriteKeyOr404Async(context, key).ConfigureAwait(false);
    }

    public async Task UsageAsync(HttpContext context)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;

        int limit = 50;
        if (context.Request.Query.TryGetValue("limit", out var limitText) && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 1000))
        {
            await AdminHttp.BadRequestAsync(context, "'limit' must be a whole number from 1 to 1000.").ConfigureAwait(false);
            return;
        }

        string id = Id(context);
        var entries = await keys.RecentUsageAsync(caller.AccountId, id, limit, context.RequestAborted).ConfigureAwait(false);
        if (entries is null)
        {
            await AdminHttp.NotFoundAsync(context, $"No key '{id}' in this account.").ConfigureAwait(false);
            return;
        }

        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, (id, entries), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteString("key_id", s.id);
            MeteringJson.WriteEntries(w, "data", s.entries);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    /// <summary>Writes the 403 and returns true when <paramref name="caller"/> may not change the key named by the route: the
    /// account's master key is changed by no key here, an admin key only by the master key.</summary>
    private async ValueTask<bool> RefuseChangeAsync(HttpContext context, QlaudCaller caller)
    {
        var target = await keys.GetAsync(caller.AccountId, Id(context), context.RequestAborted).ConfigureAwait(false);
        string? refusal = target?.Record.Scope switch
        {
            KeyScope.Master => "The account's master key cannot be changed or revoked through /v1/keys.",
            KeyScope.Admin when !caller.IsMaster => "An admin-scope key changes and revokes standard keys only, not admin keys (its own included).",
            _ => null,
        };
        if (refusal is null)
        {
            return false;
        }

        await AdminHttp.ForbiddenAsync(context, refusal).ConfigureAwait(false);
        return true;
    }

    private static string Id(HttpContext context) => context.Request.RouteValues["id"] as string ?? "";

    private static Task WriteKeyOr404Async(HttpContext context, KeyView? key) => key is null
        ? AdminHttp.NotFoundAsync(context, $"No key '{Id(context)}' in this account.")
        : AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, key, static (w, k) => MeteringJson.WriteKey(w, k));

    private static string? ReadString(JsonElement value, int maxLength, out string? result)
    {
        result = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        return value.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.String when result!.Length <= maxLength => null,
            JsonValueKind.String => $"The value is longer than {maxLength} characters.",
            _ => "Expected a string.",
        };
    }

    private static string? ReadScope(JsonElement value, out KeyScope scope)
    {
        scope = KeyScope.Standard;
        switch (value.ValueKind == JsonValueKind.String ? value.GetString() : null)
        {
            case "standard":
                return null;
            case "admin":
                scope = KeyScope.Admin;
                return null;
            default:
                return "'scope' must be \"standard\" or \"admin\".";
        }
    }

    private static string? ReadCap(JsonElement value, out long? micros)
    {
        micros = null;
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out decimal usd) && usd >= 0 && AdminHttp.TryMicros(usd, out long m))
        {
            micros = m;
            return null;
        }

        return "'max_spend_usd' must be a number of USD, 0 or more with at most 6 decimals, or null for no cap.";
    }

    private static string? ReadReset(JsonElement value, out LimitReset reset)
    {
        reset = LimitReset.None;
        string? text = value.ValueKind switch { JsonValueKind.String => value.GetString(), JsonValueKind.Null => null, _ => "?" };
        return LimitResetPeriods.TryParse(text, out reset) ? null : "'limit_reset' must be \"daily\", \"weekly\", \"monthly\" or null (a lifetime cap).";
    }

    private static string? ReadLimit(JsonElement value, string name, out int? limit)
    {
        limit = null;
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int n) && n > 0)
        {
            limit = n;
            return null;
        }

        return $"'{name}' must be a whole number above 0, or null for no limit.";
    }
}
