using System.Globalization;
using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using Qlaud.Storage;

namespace Qlaud.Metering;

/// <summary>Usage rollups from the ledger, summed by the database.</summary>
/// <remarks>Only usage entries count. Everything settled before the call is included (the ledger writer is flushed first).</remarks>
internal sealed class UsageService(IDbContextFactory<QlaudDbContext> dbFactory, StorageInitializer storage, LedgerWriter ledger)
{
    private const long DayMs = 86_400_000;

    /// <summary>Rollups for <paramref name="accountId"/> in [<paramref name="fromMs"/>, <paramref name="toMs"/>), limited to one key when <paramref name="keyId"/> is set.</summary>
    /// <remarks><c>batch</c> narrows the report: all requests (null), batch requests only or interactive only, or one batch's.</remarks>
    public async Task<UsageReport> GetReportAsync(string accountId, string? keyId, long fromMs, long toMs, CancellationToken cancellationToken, UsageBatchFilter? batch = null)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        await ledger.FlushAsync(cancellationToken).ConfigureAwait(false);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var entries = Query(db, accountId, keyId, fromMs, toMs, batch);
            var byKey = await entries.GroupBy(static e => e.KeyId).Select(Summarize<string?>()).ToListAsync(cancellationToken).ConfigureAwait(false);
            var byModel = await entries.GroupBy(static e => e.Model).Select(Summarize<string?>()).ToListAsync(cancellationToken).ConfigureAwait(false);
            var byEndUser = await entries.GroupBy(static e => e.EndUserId).Select(Summarize<string?>()).ToListAsync(cancellationToken).ConfigureAwait(false);
            var byTool = await entries.Where(static e => e.Tool != null).GroupBy(static e => e.Tool).Select(Summarize<string?>()).ToListAsync(cancellationToken).ConfigureAwait(false);
            var byDay = await entries.GroupBy(static e => e.CreatedAtMs / DayMs).Select(Summarize<long>()).ToListAsync(cancellationToken).ConfigureAwait(false);
            var days = byDay.Select(static d => d.Row with { Group = Day(d.Key) }).OrderBy(static r => r.Group, StringComparer.Ordinal).ToList();
            return new UsageReport(fromMs, toMs, UsageRow.Sum(null, days),
                Rows(byKey), Rows(byModel), Rows(byEndUser), days, Rows(byTool));
        }
    }

    /// <summary>Usage by day, key, end user and model: the lines of an invoice export.</summary>
    public async Task<IReadOnlyList<UsageLine>> GetLinesAsync(string accountId, string? keyId, long fromMs, long toMs, CancellationToken cancellationToken, UsageBatchFilter? batch = null)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        await ledger.FlushAsync(cancellationToken).ConfigureAwait(false);
        var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var groups = await Query(db, accountId, keyId, fromMs, toMs, batch)
                .GroupBy(static e => new { Day = e.CreatedAtMs / DayMs, e.KeyId, e.EndUserId, e.Model, e.Tool })
                .Select(static g => new
                {
                    g.Key,
                    Row = new UsageRow(null, g.Count(), g.Sum(static e => e.InputTokens), g.Sum(static e => e.OutputTokens), g.Sum(static e => e.CacheReadTokens),
                        g.Sum(static e => e.CacheWriteTokens), g.Sum(static e => e.ReasoningTokens), g.Sum(static e => e.CostMicros), g.Sum(static e => e.UpstreamCostMicros)),
                })
                .ToListAsync(cancellationToken).ConfigureAwait(false);
            return [.. groups
                .Select(static g => new UsageLine(Day(g.Key.Day), g.Key.KeyId, g.Key.EndUserId, g.Key.Model, g.Row) { Tool = g.Key.Tool })
                .OrderBy(static l => l.Day, StringComparer.Ordinal).ThenBy(static l => l.EndUserId, StringComparer.Ordinal)
                .ThenBy(static l => l.KeyId, StringComparer.Ordinal).ThenBy(static l => l.Model, StringComparer.Ordinal).ThenBy(static l => l.Tool, StringComparer.Ordinal)];
        }
    }

    private static IQueryable<LedgerEntryEntity> Query(QlaudDbContext db, string accountId, string? keyId, long fromMs, long toMs, UsageBatchFilter? batch)
    {
        var query = db.LedgerEntries.AsNoTracking()
            .Where(e => e.AccountId == accountId && (e.Kind == LedgerEntryKind.Usage || e.Kind == LedgerEntryKind.Tool) && e.CreatedAtMs >= fromMs && e.CreatedAtMs < toMs);
        query = keyId is null ? query : query.Where(e => e.KeyId == keyId);
        return batch switch
        {
            { BatchId: { } batchId } => query.Where(e => e.BatchId == batchId),
            { Only: true } => query.Where(static e => e.BatchId != null),
            { Only: false } => query.Where(static e => e.BatchId == null),
            _ => query,
        };
    }

    private static Expression<Func<IGrouping<TKey, LedgerEntryEntity>, Keyed<TKey>>> Summarize<TKey>()
        => static g => new Keyed<TKey>(g.Key, new UsageRow(null, g.Count(), g.Sum(static e => e.InputTokens), g.Sum(static e => e.OutputTokens),
            g.Sum(static e => e.CacheReadTokens), g.Sum(static e => e.CacheWriteTokens), g.Sum(static e => e.ReasoningTokens),
            g.Sum(static e => e.CostMicros), g.Sum(static e => e.UpstreamCostMicros)));

    private static List<UsageRow> Rows(List<Keyed<string?>> groups)
        => [.. groups.Select(static g => g.Row with { Group = g.Key }).OrderByDescending(static r => r.CostMicros).ThenBy(static r => r.Group, StringComparer.Ordinal)];

    private static string Day(long day) => DateTimeOffset.FromUnixTimeMilliseconds(day * DayMs).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private sealed record Keyed<TKey>(TKey Key, UsageRow Row);
}
