using System.Text.Json;
using Qlaud.Metering;
using Qlaud.Security;
using Qlaud.Storage;

namespace Qlaud.AspNetCore;

/// <summary>The JSON shapes of keys, ledger entries, wallets and usage rows (field names follow qlaud's published API).</summary>
internal static class MeteringJson
{
    public static void WriteKey(Utf8JsonWriter writer, KeyView key, string? secret = null)
    {
        var record = key.Record;
        writer.WriteStartObject();
        writer.WriteString("id", record.Id);
        writer.WriteString("object", "key");
        writer.WriteString("name", record.Name);
        if (secret is not null)
        {
            writer.WriteString("secret", secret);
        }

        writer.WriteString("prefix", record.Prefix);
        writer.WriteString("scope", KeyScopes.ToWire(record.Scope));
        writer.WriteString("end_user_id", record.EndUserId);
        AdminHttp.WriteUsd(writer, "max_spend_usd", record.MaxSpendMicros);
        writer.WriteString("limit_reset", LimitResetPeriods.ToWire(record.LimitReset));
        AdminHttp.WriteUsd(writer, "spend_usd", key.PeriodSpendMicros);
        AdminHttp.WriteUsd(writer, "lifetime_spend_usd", key.LifetimeSpendMicros);
        AdminHttp.WriteUsd(writer, "remaining_usd", key.RemainingMicros);
        AdminHttp.WriteTime(writer, "resets_at", key.PeriodEndsAtMs);
        AdminHttp.WriteNumberOrNull(writer, "rpm_limit", record.RpmLimit);
        AdminHttp.WriteNumberOrNull(writer, "tpm_limit", record.TpmLimit);
        AdminHttp.WriteTime(writer, "expires_at", record.ExpiresAtMs);
        writer.WriteBoolean("disabled", record.Disabled);
        writer.WriteBoolean("revoked", record.IsRevoked);
        AdminHttp.WriteTime(writer, "revoked_at", record.RevokedAtMs);
        AdminHttp.WriteTime(writer, "created_at", record.CreatedAtMs);
        AdminHttp.WriteTime(writer, "last_used_at", key.LastUsedAtMs);
        writer.WriteEndObject();
    }

    public static void WriteEntry(Utf8JsonWriter writer, LedgerEntryEntity entry)
    {
        writer.WriteStartObject();
        writer.WriteNumber("id", entry.Id);
        writer.WriteString("object", "ledger_entry");
        writer.WriteString("kind", Kind(entry.Kind));
        AdminHttp.WriteUsd(writer, "amount_usd", entry.AmountMicros);
        writer.WriteNumber("amount_micros", entry.AmountMicros);
        writer.WriteString("key_id", entry.KeyId);
        writer.WriteString("end_user_id", entry.EndUserId);
        writer.WriteString("model", entry.Model);
        writer.WriteString("route", entry.Route);
        if (entry.Tool is not null)
        {
            writer.WriteString("tool", entry.Tool);
        }

        writer.WriteNumber("input_tokens", entry.InputTokens);
        writer.WriteNumber("output_tokens", entry.OutputTokens);
        writer.WriteNumber("cache_read_tokens", entry.CacheReadTokens);
        writer.WriteNumber("cache_write_tokens", entry.CacheWriteTokens);
        writer.WriteNumber("reasoning_tokens", entry.ReasoningTokens);
        writer.WriteNumber("upstream_cost_micros", entry.UpstreamCostMicros);
        writer.WriteNumber("cost_micros", entry.CostMicros);
        writer.WriteNumber("written_off_micros", entry.WrittenOffMicros);
        writer.WriteBoolean("estimated", entry.Estimated);
        writer.WriteString("request_id", entry.RequestId);
        writer.WriteString("note", entry.Note);
        writer.WriteString("external_reference", entry.ExternalReference);
        writer.WriteString("external_payment_id", entry.ExternalPaymentId);
        writer.WriteString("external_event_id", entry.ExternalEventId);
        AdminHttp.WriteTime(writer, "created_at", entry.CreatedAtMs);
        writer.WriteNumber("created_ms", entry.CreatedAtMs);
        writer.WriteEndObject();
    }

    public static void WriteEntries(Utf8JsonWriter writer, string name, IReadOnlyList<LedgerEntryEntity> entries)
    {
        writer.WriteStartArray(name);
        foreach (var entry in entries)
        {
            WriteEntry(writer, entry);
        }

        writer.WriteEndArray();
    }

    /// <summary>Writes a usage row's counters; <paramref name="groupName"/> names its group field (<c>model</c>, <c>date</c>…), null for totals.</summary>
    public static void WriteUsageRow(Utf8JsonWriter writer, UsageRow row, string? groupName)
    {
        writer.WriteStartObject();
        if (groupName is not null)
        {
            writer.WriteString(groupName, row.Group);
        }

        writer.WriteNumber("requests", row.Requests);
        writer.WriteNumber("input_tokens", row.InputTokens);
        writer.WriteNumber("output_tokens", row.OutputTokens);
        writer.WriteNumber("cache_read_tokens", row.CacheReadTokens);
        writer.WriteNumber("cache_write_tokens", row.CacheWriteTokens);
        writer.WriteNumber("reasoning_tokens", row.ReasoningTokens);
        writer.WriteNumber("cost_micros", row.CostMicros);
        AdminHttp.WriteUsd(writer, "cost_usd", row.CostMicros);
        writer.WriteNumber("upstream_cost_micros", row.UpstreamCostMicros);
        writer.WriteEndObject();
    }

    public static string Kind(LedgerEntryKind kind) => kind switch
    {
        LedgerEntryKind.Usage => "usage",
        LedgerEntryKind.Credit => "credit",
        LedgerEntryKind.Adjustment => "adjustment",
        LedgerEntryKind.Refund => "refund",
        LedgerEntryKind.Tool => "tool",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
