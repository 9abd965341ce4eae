using Qlaud.Billing;
using Qlaud.Tests.Wallet;

namespace Qlaud.Core.Tests.Billing;

/// <summary>The test double keeps the seam's contract, so webhook tests that use it prove something about the real wallet too.</summary>
public sealed class InMemoryWalletLedgerTests : WalletLedgerContractTests
{
    private readonly InMemoryWalletLedger _ledger = new(Account);

    private protected override Task<IWalletLedger> CreateLedgerAsync() => Task.FromResult<IWalletLedger>(_ledger);

    protected override Task<long> BalanceOfAsync(string accountId) => Task.FromResult(_ledger.BalanceOf(accountId));

    [Fact]
    public async Task ApplyExternalAsync_UnknownAccount_RecordedOncePerEvent()
    {
        var entry = new ExternalLedgerEntry("x:1", "evt_1", "acct_nobody", 1, ExternalLedgerEntryKind.TopUpCredit, "test");

        await _ledger.ApplyExternalAsync(entry, CancellationToken.None);
        await _ledger.ApplyExternalAsync(entry, CancellationToken.None);

        Assert.Equal("acct_nobody", Assert.Single(_ledger.Unmatched).AccountId);
        Assert.Empty(_ledger.Entries);
    }
}
