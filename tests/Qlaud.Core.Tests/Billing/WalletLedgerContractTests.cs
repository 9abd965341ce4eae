using Qlaud.Billing;

namespace Qlaud.Core.Tests.Billing;

/// <summary>
/// The <see cref="IWalletLedger"/> contract as tests: every implementation (the in-memory test double now, the EF Core wallet
/// after the metering merge) derives from this class and must pass all of it.
/// </summary>
public abstract class WalletLedgerContractTests
{
    protected const string Account = "acct_contract";

    /// <summary>A fresh ledger whose only account is <see cref="Account"/>, with a zero balance.</summary>
    private protected abstract Task<IWalletLedger> CreateLedgerAsync();

    protected abstract Task<long> BalanceOfAsync(string accountId);

    private static ExternalLedgerEntry Credit(string externalId, long micros = 5_000_000, string? account = Account, string eventId = "evt_1")
        => new(externalId, eventId, account, micros, ExternalLedgerEntryKind.TopUpCredit, "test credit", CheckoutSessionId: "cs_1", PaymentIntentId: "pi_1");

    private static ExternalLedgerEntry Refund(string externalId, long micros, string chargeId = "ch_1")
        => new(externalId, "evt_r", Account, -micros, ExternalLedgerEntryKind.RefundDebit, "test refund", PaymentIntentId: "pi_1", ChargeId: chargeId);

    [Fact]
    public async Task ApplyExternalAsync_NewId_AppliedAndBalanceChanges()
    {
        var ledger = await CreateLedgerAsync();

        Assert.Equal(LedgerApplyResult.Applied, await ledger.ApplyExternalAsync(Credit("x:1"), CancellationToken.None));

        Assert.Equal(5_000_000, await BalanceOfAsync(Account));
    }

    [Fact]
    public async Task ApplyExternalAsync_SameIdTwice_DuplicateAndAppliedOnce()
    {
        var ledger = await CreateLedgerAsync();
        await ledger.ApplyExternalAsync(Credit("x:1"), CancellationToken.None);

        var second = await ledger.ApplyExternalAsync(Credit("x:1", eventId: "evt_2"), CancellationToken.None);

        Assert.Equal(LedgerApplyResult.Duplicate, second);
        Assert.Equal(5_000_000, await BalanceOfAsync(Account));
    }

    [Fact]
    public async Task ApplyExternalAsync_SameIdConcurrently_AppliedExactlyOnce()
    {
        var ledger = await CreateLedgerAsync();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var deliveries = Enumerable.Range(0, 32).Select(async i =>
        {
            await gate.Task;
            return await ledger.ApplyExternalAsync(Credit("x:race", eventId: "evt_" + i), CancellationToken.None);
        }).ToArray();

        gate.SetResult();
        var results = await Task.WhenAll(deliveries);

        Assert.Equal(1, results.Count(static r => r == LedgerApplyResult.Applied));
        Assert.Equal(5_000_000, await BalanceOfAsync(Account));
    }

    [Fact]
    public async Task ApplyExternalAsync_UnknownAccount_UnknownAccountAndNoBalanceChanges()
    {
        var ledger = await CreateLedgerAsync();

        Assert.Equal(LedgerApplyResult.UnknownAccount, await ledger.ApplyExternalAsync(Credit("x:1", account: "acct_nobody"), CancellationToken.None));
        Assert.Equal(LedgerApplyResult.UnknownAccount, await ledger.ApplyExternalAsync(Credit("x:2", account: null), CancellationToken.None));

        Assert.Equal(0, await BalanceOfAsync(Account));
    }

    [Fact]
    public async Task ApplyExternalAsync_UnknownAccountFirst_DoesNotConsumeTheExternalId()
    {
        var ledger = await CreateLedgerAsync();
        await ledger.ApplyExternalAsync(Credit("x:1", account: "acct_nobody"), CancellationToken.None);

        Assert.Equal(LedgerApplyResult.Applied, await ledger.ApplyExternalAsync(Credit("x:1"), CancellationToken.None));
    }

    [Fact]
    public async Task GetRefundedMicrosAsync_RefundDebitsOfTheCharge_SumAsPositive()
    {
        var ledger = await CreateLedgerAsync();
        await ledger.ApplyExternalAsync(Credit("x:1", micros: 20_000_000), CancellationToken.None);
        await ledger.ApplyExternalAsync(Refund("r:1", 3_000_000), CancellationToken.None);
        await ledger.ApplyExternalAsync(Refund("r:2", 2_000_000), CancellationToken.None);
        await ledger.ApplyExternalAsync(Refund("r:3", 1_000_000, chargeId: "ch_other"), CancellationToken.None);

        Assert.Equal(5_000_000, await ledger.GetRefundedMicrosAsync("ch_1", CancellationToken.None));
        Assert.Equal(0, await ledger.GetRefundedMicrosAsync("ch_none", CancellationToken.None));
        Assert.Equal(14_000_000, await BalanceOfAsync(Account));
    }
}
