using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Qlaud.Accounts;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for <c>/v1/accounts</c>: the tenants of one gateway (policy <see cref="QlaudAuthorizationPolicies.Operator"/>).</summary>
/// <remarks>Each account is created with an empty wallet and its own master key, shown once in the answer to
/// <c>POST /v1/accounts</c>. A disabled account's keys get 401 (<c>account_disabled</c>); the default account cannot be disabled.</remarks>
internal sealed class AccountEndpoints(AccountService accounts)
{
    private const int DefaultPageSize = 20;
    private const int MaxPageSize = 100;

    public async Task CreateAsync(HttpContext context)
    {
        string? name = null;
        if (context.Request.ContentLength is not 0)
        {
            using var body = await AdminHttp.ReadObjectAsync(context).ConfigureAwait(false);
            if (body is null)
            {
                return;
            }

            if (ReadName(body.RootElement, out name) is { } problem)
            {
                await AdminHttp.BadRequestAsync(context, problem).ConfigureAwait(false);
                return;
            }
        }

        var (account, key, secret) = await accounts.CreateAsync(name, context.RequestAborted).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status201Created, (account, key, secret), static (w, s) =>
        {
            WriteAccount(w, s.account, end: false);
            w.WritePropertyName("master_key");
            MeteringJson.WriteKey(w, s.key, s.secret);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    public async Task ListAsync(HttpContext context)
    {
        var query = context.Request.Query;
        int limit = DefaultPageSize;
        if (query.TryGetValue("limit", out var limitText) && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxPageSize))
        {
            await AdminHttp.BadRequestAsync(context, $"'limit' must be a whole number from 1 to {MaxPageSize}.").ConfigureAwait(false);
            return;
        }

        string? after = query["starting_after"].ToString() is { Length: > 0 } s ? s : null;
        var (page, more) = await accounts.ListAsync(after, limit, context.RequestAborted).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, (page, more), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var account in s.page)
            {
                WriteAccount(w, account);
            }

            w.WriteEndArray();
            w.WriteBoolean("has_more", s.more);
            w.WriteString("next_cursor", s.more ? s.page[^1].Id : null);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    public async Task GetAsync(HttpContext context)
    {
        var account = await accounts.GetAsync(Id(context), context.RequestAborted).ConfigureAwait(false);
        await WriteAccountOr404Async(context, account).ConfigureAwait(false);
    }

    /// <summary><c>PATCH /v1/accounts/{id} {name?, disabled?}</c>.</summary>
    public async Task PatchAsync(HttpContext context)
    {
        using var body = await AdminHttp.ReadObjectAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        string? name = null;
        bool? disabled = null;
        foreach (var property in body.RootElement.EnumerateObject())
        {
            string? problem = property.Name switch
            {
                "name" => ReadName(body.RootElement, out name),
                "disabled" when property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False => null,
                "disabled" => "'disabled' must be true or false.",
                _ => $"'{property.Name}' cannot be changed. Changeable: name, disabled.",
            };
            if (problem is not null)
            {
                await AdminHttp.BadRequestAsync(context, problem).ConfigureAwait(false);
                return;
            }

            if (property.Name == "disabled")
            {
                disabled = property.Value.ValueKind == JsonValueKind.True;
            }
        }

        await UpdateAsync(context, name, disabled).ConfigureAwait(false);
    }

    /// <summary><c>POST /v1/accounts/{id}/disable</c>: the same as <c>PATCH {"disabled": true}</c>.</summary>
    public Task DisableAsync(HttpContext context) => UpdateAsync(context, null, true);

    private async Task UpdateAsync(HttpContext context, string? name, bool? disabled)
    {
        AccountView? account;
        try
        {
            account = await accounts.UpdateAsync(Id(context), name, disabled, context.RequestAborted).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex)
        {
            await AdminHttp.BadRequestAsync(context, ex.Message, "default_account").ConfigureAwait(false);
            return;
        }

        await WriteAccountOr404Async(context, account).ConfigureAwait(false);
    }

    private static string Id(HttpContext context) => context.Request.RouteValues["id"] as string ?? "";

    private static Task WriteAccountOr404Async(HttpContext context, AccountView? account) => account is null
        ? AdminHttp.NotFoundAsync(context, $"No account '{Id(context)}'.")
        : AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, account, static (w, a) => WriteAccount(w, a));

    private static string? ReadName(JsonElement root, out string? name)
    {
        name = null;
        if (!root.TryGetProperty("name", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        name = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        return name is { Length: > 0 and <= 200 } ? null : "'name' must be a string of 1 to 200 characters.";
    }

    private static void WriteAccount(Utf8JsonWriter writer, AccountView account, bool end = true)
    {
        writer.WriteStartObject();
        writer.WriteString("id", account.Id);
        writer.WriteString("object", "account");
        writer.WriteString("name", account.Name);
        AdminHttp.WriteTime(writer, "created_at", account.CreatedAtMs);
        writer.WriteBoolean("disabled", account.Disabled);
        AdminHttp.WriteTime(writer, "disabled_at", account.DisabledAtMs);
        if (end)
        {
            writer.WriteEndObject();
        }
    }
}
