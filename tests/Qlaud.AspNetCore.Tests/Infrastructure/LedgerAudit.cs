using Microsoft.EntityFrameworkCore;
using Qlaud.Storage;

namespace Qlaud.AspNetCore.Tests.Infrastructure;

/// <summary>What a gateway's database says about money, read straight from the file: every key's spend and every wallet's
/// balance beside the sums of their ledger rows, and the request ids the ledger holds.</summary>
internal sealed record LedgerAudit(
    IReadOnlyList<(string KeyId, long SpendMicros, long LedgerMicros)> Keys,
    IReadOnlyList<(string AccountId, long BalanceMicros, long LedgerMicros)> Wallets,
    IReadOnlyList<string> UsageRequestIds)
{
    public static async Task<LedgerAudit> ReadAsync(string connectionString)
    {
        var options = new DbContextOptionsBuilder<QlaudDbContext>().UseSqlite(connectionString).Options;
        await using var db = new QlaudDbContext(options);
        var usage = await db.LedgerEntries.AsNoTracking().Where(static e => e.Kind == LedgerEntryKind.Usage).ToListAsync();
        var all = await db.LedgerEntries.AsNoTracking().ToListAsync();
        var keys = await db.ApiKeys.AsNoTracking().ToListAsync();
        var wallets = await db.Wallets.AsNoTracking().ToListAsync();
        return new LedgerAudit(
            [.. keys.Select(k => (k.Id, k.SpendMicros, usage.Where(e => e.KeyId == k.Id).Sum(static e => e.CostMicros)))],
            [.. wallets.Select(w => (w.AccountId, w.BalanceMicros, all.Where(e => e.AccountId == w.AccountId).Sum(static e => e.AmountMicros)))],
            [.. usage.Select(static e => e.RequestId ?? "")]);
    }

    /// <summary>Asserts that every key's spend and every wallet's balance equal the sums of their ledger rows, and that no request is in the ledger twice.</summary>
    public void AssertConsistent()
    {
        foreach (var (keyId, spend, ledger) in Keys)
        {
            Assert.True(spend == ledger, $"key {keyId}: spend {spend} µUSD, ledger rows sum to {ledger}");
        }

        foreach (var (accountId, balance, ledger) in Wallets)
        {
            Assert.True(balance == ledger, $"wallet {accountId}: balance {balance} µUSD, ledger rows sum to {ledger}");
        }

        var twice = UsageRequestIds.GroupBy(static id => id).Where(static g => g.Count() > 1).Select(static g => g.Key).ToList();
        Assert.True(twice.Count == 0, $"charged more than once: {string.Join(", ", twice.Take(5))}");
    }
}
