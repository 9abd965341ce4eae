using Qlaud.Billing;
using Qlaud.Core.Tests.Billing;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Metering;
using Qlaud.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Qlaud.Core.Tests.Metering;

/// <summary>The production <see cref="IWalletLedger"/> (the metering wallet on real SQLite) keeps the seam's contract.</summary>
public class WalletLedgerTests : WalletLedgerContractTests, IAsyncLifetime
{
    /// <summary>The provider the tests run on (PostgreSQL in <see cref="Storage.WalletLedgerPostgresTests"/>).</summary>
    protected virtual string Storage => MeteringHarness.Sqlite;

    private MeteringHarness _h = null!;

    public async Task InitializeAsync()
    {
        _h = await MeteringHarness.StartAsync(storage: Storage);
        await using var db = _h.Db();
        db.Accounts.Add(new AccountEntity { Id = Account, Name = "contract" });
        db.Wallets.Add(new WalletEntity { AccountId = Account });
        await db.SaveChangesAsync();
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private protected override Task<IWalletLedger> CreateLedgerAsync() => Task.FromResult(_h.Services.GetRequiredService<IWalletLedger>());

    protected override async Task<long> BalanceOfAsync(string accountId)
    {
        var wallet = await _h.Wallets.GetAsync(accountId, 0, default);
        return wallet?.BalanceMicros ?? 0;
    }

    [Fact]
    public async Task ApplyExternalAsync_Refund_LinksTheChargeAndCountsAsRefunded()
    {
        var ledger = await CreateLedgerAsync();
        await ledger.ApplyExternalAsync(new ExternalLedgerEntry("stripe:cs_1", "evt_1", Account, 10_000_000, ExternalLedgerEntryKind.TopUpCredit, "top-up", CheckoutSessionId: "cs_1", PaymentIntentId: "pi_1"), default);
        var result = await ledger.ApplyExternalAsync(new ExternalLedgerEntry("stripe:ch_1:0", "evt_2", Account, -4_000_000, ExternalLedgerEntryKind.RefundDebit, "refund", ChargeId: "ch_1", PaymentIntentId: "pi_1"), default);

        Assert.Equal(LedgerApplyResult.Applied, result);
        Assert.Equal(4_000_000, await ledger.GetRefundedMicrosAsync("ch_1", default));
        Assert.Equal(6_000_000, await BalanceOfAsync(Account));
    }
}
