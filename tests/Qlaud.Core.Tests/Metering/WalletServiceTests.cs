using Microsoft.EntityFrameworkCore;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Metering;

public class WalletServiceTests : StorageTestBase, IAsyncLifetime
{
    private MeteringHarness _h = null!;

    public async Task InitializeAsync() => _h = await StartHarnessAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task ApplyAsync_Credit_RaisesBalanceAndWritesOneEntry()
    {
        var result = await _h.Wallets.ApplyAsync(new WalletChange(AccountEntity.DefaultId, LedgerEntryKind.Credit, 2_500_000, "welcome credit"), default);

        Assert.False(result!.Duplicate);
        Assert.Equal(2_500_000, result.BalanceMicros);
        await using var db = _h.Db();
        var entry = await db.LedgerEntries.SingleAsync();
        Assert.Equal((LedgerEntryKind.Credit, 2_500_000L, "welcome credit"), (entry.Kind, entry.AmountMicros, entry.Note));
        Assert.Equal(2_500_000, (await db.Wallets.SingleAsync()).BalanceMicros);
    }

    [Fact]
    public async Task ApplyAsync_SameExternalEventTwice_AppliesOnceAndLinksStripeIds()
    {
        var change = new WalletChange(AccountEntity.DefaultId, LedgerEntryKind.Credit, 5_000_000, "top-up", "cs_test_1", "pi_test_1", "evt_1");

        var first = await _h.Wallets.ApplyAsync(change, default);
        var second = await _h.Wallets.ApplyAsync(change, default);

        Assert.False(first!.Duplicate);
        Assert.True(second!.Duplicate);
        Assert.Equal(first.Entry.Id, second.Entry.Id);
        Assert.Equal(5_000_000, second.BalanceMicros);
        await using var db = _h.Db();
        var entry = await db.LedgerEntries.SingleAsync();
        Assert.Equal(("cs_test_1", "pi_test_1", "evt_1"), (entry.ExternalReference, entry.ExternalPaymentId, entry.ExternalEventId));
    }

    [Fact]
    public async Task ApplyAsync_ConcurrentDeliveriesOfOneEvent_CreditOnce()
    {
        var change = new WalletChange(AccountEntity.DefaultId, LedgerEntryKind.Credit, 1_000_000, ExternalEventId: "evt_concurrent");

        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Task.Run(() => _h.Wallets.ApplyAsync(change, default))));

        Assert.Equal(1, results.Count(static r => !r!.Duplicate));
        await using var db = _h.Db();
        Assert.Equal(1, await db.LedgerEntries.CountAsync());
        Assert.Equal(1_000_000, (await db.Wallets.SingleAsync()).BalanceMicros);
        Assert.Equal(1_000_000, (await _h.Wallets.GetAsync(AccountEntity.DefaultId, 0, default))!.BalanceMicros);
    }

    [Fact]
    public async Task ApplyAsync_RefundAfterUsage_BalanceIsCreditMinusUsageMinusRefund()
    {
        await _h.Wallets.ApplyAsync(new WalletChange(AccountEntity.DefaultId, LedgerEntryKind.Credit, 10_000), default);
        _h.Guard.Settle((await _h.Guard.ReserveAsync(QlaudCaller.InProcess, MeteringHarness.Estimate(5_000), default)).Reservation!, MeteringHarness.Used(1_234));

        var refund = await _h.Wallets.ApplyAsync(new WalletChange(AccountEntity.DefaultId, LedgerEntryKind.Refund, -3_000, ExternalEventId: "evt_refund"), default);

        Assert.Equal(10_000 - 1_234 - 3_000, refund!.BalanceMicros);
        await _h.Ledger.FlushAsync();
        await using var db = _h.Db();
        Assert.Equal(refund.BalanceMicros, (await db.Wallets.SingleAsync()).BalanceMicros);
        Assert.Equal(refund.BalanceMicros, await db.LedgerEntries.SumAsync(static e => e.AmountMicros));
    }

    [Fact]
    public async Task ApplyAsync_UnknownAccount_ReturnsNull()
        => Assert.Null(await _h.Wallets.ApplyAsync(new WalletChange("nobody", LedgerEntryKind.Credit, 1), default));
}
