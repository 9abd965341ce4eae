using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Qlaud.AspNetCore.Authentication;
using Qlaud.Metering;
using Qlaud.Security;

namespace Qlaud.AspNetCore;

/// <summary>Handler for <c>GET /v1/usage?from_ms=&amp;to_ms=[&amp;format=csv][&amp;key_id=][&amp;batch=true|false][&amp;batch_id=]</c>: rollups from the ledger.</summary>
/// <remarks>Policy <see cref="QlaudAuthorizationPolicies.AnyKey"/>. The master key and admin-scope keys see the whole account (or one
/// key with <c>key_id</c>); a standard key sees its own usage only (403 when it names another key).
/// The range is [from_ms, to_ms) in Unix milliseconds; default: the last 30 days.</remarks>
internal sealed class UsageEndpoints(UsageService usage, TimeProvider time)
{
    private const long DefaultRangeMs = 30L * 86_400_000;

    public async Task GetAsync(HttpContext context)
    {
        var key = QlaudKeyFeature.Of(context);
        var caller = key.Caller;

        var query = context.Request.Query;
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (!TryReadMs(query["to_ms"], now + 1, out long to) || !TryReadMs(query["from_ms"], to - DefaultRangeMs, out long from) || from >= to)
        {
            await AdminHttp.BadRequestAsync(context, "'from_ms' and 'to_ms' must be Unix times in milliseconds with from_ms < to_ms.").ConfigureAwait(false);
            return;
        }

        string format = query["format"].ToString();
        if (format is not ("" or "json" or "csv"))
        {
            await AdminHttp.BadRequestAsync(context, "'format' must be \"json\" or \"csv\".").ConfigureAwait(false);
            return;
        }

        string? named = query["key_id"].ToString() is { Length: > 0 } k ? k : null;
        if (key.Scope == KeyScope.Standard && named is not null && named != caller.KeyId)
        {
            await AdminHttp.ForbiddenAsync(context, "An end-user key sees only its own usage; leave out 'key_id' or name its own key.").ConfigureAwait(false);
            return;
        }

        string? keyId = key.Scope == KeyScope.Standard ? caller.KeyId : named;
        UsageBatchFilter? batch = null;
        if (query["batch_id"].ToString() is { Length: > 0 } batchId)
        {
            batch = new UsageBatchFilter(true, batchId);
        }
        else if (query["batch"].ToString() is { Length: > 0 } batchText)
        {
            batch = batchText switch
            {
                "true" => new UsageBatchFilter(true),
                "false" => new UsageBatchFilter(false),
                _ => null,
            };
            if (batch is null)
            {
                await AdminHttp.BadRequestAsync(context, "'batch' must be \"true\" (batch requests only) or \"false\" (interactive requests only).").ConfigureAwait(false);
                return;
            }
        }

        if (format == "csv")
        {
            var lines = await usage.GetLinesAsync(caller.AccountId, keyId, from, to, context.RequestAborted, batch).ConfigureAwait(false);
            byte[] csv = Encoding.UTF8.GetBytes(Csv(lines));
            context.Response.ContentType = "text/csv; charset=utf-8";
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"qlaud-usage-{from}-{to}.csv\"";
            context.Response.ContentLength = csv.Length;
            await context.Response.Body.WriteAsync(csv, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var report = await usage.GetReportAsync(caller.AccountId, keyId, from, to, context.RequestAborted, batch).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, (report, keyId), static (w, s) =>
        {
            var report = s.report;
            w.WriteStartObject();
            w.WriteString("object", "usage");
            w.WriteNumber("from_ms", report.FromMs);
            w.WriteNumber("to_ms", report.ToMs);
            w.WriteString("key_id", s.keyId);
            w.WritePropertyName("totals");
            MeteringJson.WriteUsageRow(w, report.Totals, null);
            WriteRows(w, "by_key", "key_id", report.ByKey);
            WriteRows(w, "by_model", "model", report.ByModel);
            WriteRows(w, "by_end_user", "end_user_id", report.ByEndUser);
            WriteRows(w, "by_day", "date", report.ByDay);
            WriteRows(w, "by_tool", "tool", report.ByTool);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    private static void WriteRows(System.Text.Json.Utf8JsonWriter writer, string name, string groupName, IReadOnlyList<UsageRow> rows)
    {
        writer.WriteStartArray(name);
        foreach (var row in rows)
        {
            MeteringJson.WriteUsageRow(writer, row, groupName);
        }

        writer.WriteEndArray();
    }

    private static bool TryReadMs(Microsoft.Extensions.Primitives.StringValues value, long fallback, out long ms)
    {
        if (value.Count == 0 || value.ToString().Length == 0)
        {
            ms = fallback;
            return true;
        }

        return long.TryParse(value.ToString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out ms) && ms >= 0;
    }

    /// <summary>One line per day, end user, key and model; cost in micro-USD and USD.</summary>
    internal static string Csv(IReadOnlyList<UsageLine> lines)
    {
        var csv = new StringBuilder("date,end_user_id,key_id,model,requests,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,cost_micros,cost_usd,upstream_cost_micros,tool\r\n");
        foreach (var line in lines)
        {
            var u = line.Usage;
            csv.Append(line.Day).Append(',').Append(Field(line.EndUserId)).Append(',').Append(Field(line.KeyId)).Append(',').Append(Field(line.Model))
                .Append(CultureInfo.InvariantCulture, $",{u.Requests},{u.InputTokens},{u.OutputTokens},{u.CacheReadTokens},{u.CacheWriteTokens},{u.ReasoningTokens},{u.CostMicros},{u.CostMicros / 1_000_000m},{u.UpstreamCostMicros},").Append(Field(line.Tool)).Append("\r\n");
        }

        return csv.ToString();
    }

    /// <summary>RFC 4180 quoting; a leading <c>= + - @</c> is neutralised so a spreadsheet never runs an end user's id as a formula.</summary>
    private static string Field(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        if (value[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            value = "'" + value;
        }

        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }
}
