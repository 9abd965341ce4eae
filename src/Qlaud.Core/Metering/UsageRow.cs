namespace Qlaud.Metering;

/// <summary>Usage summed over one group of ledger entries (a key, a model, an end user, a day, or everything).</summary>
internal sealed record UsageRow(string? Group, long Requests, long InputTokens, long OutputTokens, long CacheReadTokens, long CacheWriteTokens,
    long ReasoningTokens, long CostMicros, long UpstreamCostMicros)
{
    public static UsageRow Sum(string? group, IEnumerable<UsageRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        long requests = 0, input = 0, output = 0, cacheRead = 0, cacheWrite = 0, reasoning = 0, cost = 0, upstream = 0;
        foreach (var row in rows)
        {
            requests += row.Requests;
            input += row.InputTokens;
            output += row.OutputTokens;
            cacheRead += row.CacheReadTokens;
            cacheWrite += row.CacheWriteTokens;
            reasoning += row.ReasoningTokens;
            cost += row.CostMicros;
            upstream += row.UpstreamCostMicros;
        }

        return new UsageRow(group, requests, input, output, cacheRead, cacheWrite, reasoning, cost, upstream);
    }
}

/// <summary>Usage rollups over a time range.</summary>
internal sealed record UsageReport(long FromMs, long ToMs, UsageRow Totals, IReadOnlyList<UsageRow> ByKey, IReadOnlyList<UsageRow> ByModel,
    IReadOnlyList<UsageRow> ByEndUser, IReadOnlyList<UsageRow> ByDay, IReadOnlyList<UsageRow> ByTool);

/// <summary>One line of the invoicing export: usage of one key and model by one end user on one day.</summary>
internal sealed record UsageLine(string Day, string? KeyId, string? EndUserId, string? Model, UsageRow Usage)
{
    /// <summary>The tool of tool-call entries; null for model requests.</summary>
    public string? Tool { get; init; }
}
