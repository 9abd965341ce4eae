using Microsoft.EntityFrameworkCore;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Metering;

public class UsageServiceTests : StorageTestBase, IAsyncLifetime
{
    private MeteringHarness _h = null!;

    public async Task InitializeAsync() => _h = await StartHarnessAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task GetReportAsync_MixedKeysModelsAndDays_EveryRollupSumsToTheLedger()
    {
        var alice = (await _h.MintAsync(endUser: "alice")).Caller;
        var bob = (await _h.MintAsync(endUser: "bob")).Caller;
        long from = _h.Time.GetUtcNow().ToUnixTimeMilliseconds();
        await SettleAsync(alice, new SettledUsage("model-a", "p/a", new TokenUsage(100, 10, CacheRead: 40), 111));
        await SettleAsync(alice, new SettledUsage("model-b", "p/b", new TokenUsage(200, 20, CacheWrite: 50), 222));
        _h.Time.Advance(TimeSpan.FromDays(1));
        await SettleAsync(bob, new SettledUsage("model-a", "p/a", new TokenUsage(300, 30, Reasoning: 5), 333));
        await SettleAsync(QlaudCaller.InProcess, new SettledUsage("model-a", "p/a", new TokenUsage(1, 1), 4, EndUserId: "carol"));
        await _h.Wallets.ApplyAsync(new WalletChange(AccountEntity.DefaultId, LedgerEntryKind.Credit, 1_000_000), default); // not usage
        long to = _h.Time.GetUtcNow().ToUnixTimeMilliseconds() + 1;

        var report = await _h.Usage.GetReportAsync(AccountEntity.DefaultId, null, from, to, default);

        await using var db = _h.Db();
        var usage = await db.LedgerEntries.Where(static e => e.Kind == LedgerEntryKind.Usage).ToListAsync();
        Assert.Equal(4, report.Totals.Requests);
        Assert.Equal(usage.Sum(static e => e.CostMicros), report.Totals.CostMicros);
        Assert.Equal(670, report.Totals.CostMicros);
        Assert.Equal(601, report.Totals.InputTokens);
        Assert.Equal(61, report.Totals.OutputTokens);
        Assert.Equal(40, report.Totals.CacheReadTokens);
        Assert.Equal(50, report.Totals.CacheWriteTokens);
        Assert.Equal(5, report.Totals.ReasoningTokens);
        foreach (var rows in new[] { report.ByKey, report.ByModel, report.ByEndUser, report.ByDay })
        {
            Assert.Equal(report.Totals, UsageRow.Sum(null, rows));
        }

        Assert.Equal(448, report.ByModel.Single(static r => r.Group == "model-a").CostMicros);
        Assert.Equal(333, report.ByKey.Single(r => r.Group == bob.KeyId).CostMicros);
        Assert.Equal(333, report.ByEndUser.Single(static r => r.Group == "alice").CostMicros);
        Assert.Equal(4, report.ByEndUser.Single(static r => r.Group == "carol").CostMicros);
        Assert.Equal(["2026-11-24", "2026-11-25"], report.ByDay.Select(static r => r.Group));
    }

    [Fact]
    public async Task GetReportAsync_KeyFilterAndRange_CountOnlyThatKeyInRange()
    {
        var alice = (await _h.MintAsync(endUser: "alice")).Caller;
        var bob = (await _h.MintAsync(endUser: "bob")).Caller;
        await SettleAsync(alice, MeteringHarness.Used(10));
        long from = _h.Time.GetUtcNow().ToUnixTimeMilliseconds() + 1;
        _h.Time.Advance(TimeSpan.FromSeconds(1));
        await SettleAsync(alice, MeteringHarness.Used(20));
        await SettleAsync(bob, MeteringHarness.Used(40));

        var report = await _h.Usage.GetReportAsync(AccountEntity.DefaultId, alice.KeyId, from, from + 60_000, default);

        Assert.Equal(1, report.Totals.Requests);
        Assert.Equal(20, report.Totals.CostMicros);
        Assert.Equal(alice.KeyId, Assert.Single(report.ByKey).Group);
    }

    [Fact]
    public async Task GetLinesAsync_GroupsByDayEndUserKeyAndModel()
    {
        var alice = (await _h.MintAsync(endUser: "alice")).Caller;
        await SettleAsync(alice, MeteringHarness.Used(10));
        await SettleAsync(alice, MeteringHarness.Used(15));
        await SettleAsync(alice, MeteringHarness.Used(1, model: "other"));

        var lines = await _h.Usage.GetLinesAsync(AccountEntity.DefaultId, null, 0, long.MaxValue, default);

        Assert.Equal(2, lines.Count);
        var main = lines.Single(static l => l.Model == "test-model");
        Assert.Equal(("2026-11-24", "alice", alice.KeyId, 2L, 25L), (main.Day, main.EndUserId, main.KeyId, main.Usage.Requests, main.Usage.CostMicros));
    }

    private async Task SettleAsync(QlaudCaller caller, SettledUsage usage)
        => _h.Guard.Settle((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1_000), default)).Reservation!, usage);
}
