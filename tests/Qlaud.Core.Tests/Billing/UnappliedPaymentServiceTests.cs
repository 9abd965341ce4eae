using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.Billing;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Billing;

/// <summary>Payments recorded for accounts that did not exist, on the real SQLite wallet.</summary>
public class UnappliedPaymentServiceTests : StorageTestBase, IAsyncLifetime
{
    private const long Dollar = 1_000_000;
    private MeteringHarness _h = null!;

    public async Task InitializeAsync() => _h = await StartHarnessAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private IWalletLedger Ledger => _h.Services.GetRequiredService<IWalletLedger>();

    private UnappliedPaymentService Payments => _h.Services.GetRequiredService<UnappliedPaymentService>();

    private static ExternalLedgerEntry TopUp(string account, string session, long micros = 20 * Dollar, string eventId = "evt_1")
        => new("stripe:checkout_session:" + session, eventId, account, micros, ExternalLedgerEntryKind.TopUpCredit, "top-up", CheckoutSessionId: session);

    private async Task CreateAccountAsync(string id)
    {
        await using var db = _h.Db();
        db.Accounts.Add(new AccountEntity { Id = id, Name = id });
        db.Wallets.Add(new WalletEntity { AccountId = id });
        await db.SaveChangesAsync();
    }

    private async Task<long> BalanceAsync(string id)
    {
        await using var db = _h.Db();
        return (await db.Wallets.AsNoTracking().SingleAsync(w => w.AccountId == id)).BalanceMicros;
    }

    [Fact]
    public async Task ApplyUnappliedPaymentsAsync_EightConcurrentCalls_CreditedExactlyOnce()
    {
        Assert.Equal(LedgerApplyResult.UnknownAccount, await Ledger.ApplyExternalAsync(TopUp("acct_a", "cs_1"), default));
        Assert.Equal(LedgerApplyResult.UnknownAccount, await Ledger.ApplyExternalAsync(TopUp("acct_a", "cs_2", 5 * Dollar, "evt_2"), default));
        await CreateAccountAsync("acct_a");

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Payments.ApplyUnappliedPaymentsAsync("acct_a", default))));

        Assert.Equal(2, results.Sum(static r => r.Count));
        Assert.Equal(25 * Dollar, results.Sum(static r => r.AmountMicros));
        Assert.Equal(25 * Dollar, await BalanceAsync("acct_a"));
        await using var db = _h.Db();
        Assert.Equal(2, await db.LedgerEntries.CountAsync(e => e.AccountId == "acct_a"));
        Assert.Empty(await Payments.ListAsync(applied: false, 100, default));
        Assert.All(await Payments.ListAsync(applied: true, 100, default), static p => Assert.NotNull(p.LedgerEntryId));
    }

    [Fact]
    public async Task RecordAsync_SameRefundStepWithLargerTotal_KeepsOneRecordWithTheLargerAmount()
    {
        var first = new ExternalLedgerEntry("stripe:charge:ch_1:refunded_from:0", "evt_r1", "acct_b", -5 * Dollar, ExternalLedgerEntryKind.RefundDebit, "refund 5", ChargeId: "ch_1");
        var second = first with { EventId = "evt_r2", AmountMicros = -8 * Dollar, Description = "refund 8" };

        Assert.True(await Payments.RecordAsync(first, default));
        Assert.False(await Payments.RecordAsync(second, default));
        Assert.False(await Payments.RecordAsync(first, default));

        var record = Assert.Single(await Payments.ListAsync(applied: null, 100, default));
        Assert.Equal(-8 * Dollar, record.AmountMicros);
        Assert.Equal("evt_r1", record.EventId);
    }

    [Fact]
    public async Task ApplyAllAsync_OnlyAccountsThatExist_OthersStayRecorded()
    {
        await Ledger.ApplyExternalAsync(TopUp("acct_c", "cs_c"), default);
        await Ledger.ApplyExternalAsync(TopUp("acct_missing", "cs_m", eventId: "evt_m"), default);
        await Ledger.ApplyExternalAsync(new ExternalLedgerEntry("stripe:checkout_session:cs_n", "evt_n", null, Dollar, ExternalLedgerEntryKind.TopUpCredit, "no account"), default);
        await CreateAccountAsync("acct_c");

        var applied = await Payments.ApplyAllAsync(default);

        Assert.Equal(1, applied.Count);
        Assert.Equal(20 * Dollar, await BalanceAsync("acct_c"));
        var waiting = await Payments.ListAsync(applied: false, 100, default);
        Assert.Equal(2, waiting.Count);
        Assert.Contains(waiting, static p => p.AccountId == "acct_missing");
        Assert.Contains(waiting, static p => p.AccountId is null);
    }
}
