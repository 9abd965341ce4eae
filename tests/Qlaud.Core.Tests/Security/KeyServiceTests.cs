using Microsoft.EntityFrameworkCore;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Metering;
using Qlaud.Security;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Security;

public class KeyServiceTests : StorageTestBase, IAsyncLifetime
{
    private MeteringHarness _h = null!;

    public async Task InitializeAsync() => _h = await StartHarnessAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task ListAsync_ThreePagesOfTwo_ReturnsEveryKeyOnceNewestFirst()
    {
        var minted = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            minted.Add((await _h.MintAsync(endUser: $"u{i}")).Key.Record.Id);
            _h.Time.Advance(TimeSpan.FromMilliseconds(i % 2)); // some keys share a creation time
        }

        var seen = new List<string>();
        string? cursor = null;
        int pages = 0;
        do
        {
            var (page, next) = await _h.Keys.ListAsync(AccountEntity.DefaultId, cursor, 2, default);
            seen.AddRange(page.Select(static k => k.Record.Id));
            cursor = next;
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(3, pages);
        Assert.Equal(minted.Order(StringComparer.Ordinal), seen.Order(StringComparer.Ordinal));
        Assert.Equal(5, seen.Distinct().Count());
    }

    [Fact]
    public async Task ListAsync_OtherAccountsKeys_AreNotListed()
    {
        await _h.MintAsync();

        var (page, _) = await _h.Keys.ListAsync("someone-else", null, 10, default);

        Assert.Empty(page);
        Assert.Null(await _h.Keys.GetAsync("someone-else", (await _h.Keys.ListAsync(AccountEntity.DefaultId, null, 1, default)).Keys[0].Record.Id, default));
    }

    [Fact]
    public async Task PatchAsync_LowerCapBelowSpend_RefusesNextRequestAndShowsZeroRemaining()
    {
        var (key, _, caller) = await _h.MintAsync(capMicros: 10_000);
        _h.Guard.Settle((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(5_000), default)).Reservation!, MeteringHarness.Used(3_000));

        var lowered = await _h.Keys.PatchAsync(AccountEntity.DefaultId, key.Record.Id, new KeyPatch { MaxSpendMicros = 2_000 }, default);
        var refused = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1), default);
        var raised = await _h.Keys.PatchAsync(AccountEntity.DefaultId, key.Record.Id, new KeyPatch { MaxSpendMicros = 20_000 }, default);

        Assert.Equal(0, lowered!.RemainingMicros);
        Assert.Equal(QlaudErrorKind.PaymentRequired, refused.Error!.Kind);
        Assert.Equal(17_000, raised!.RemainingMicros);
        Assert.True((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(17_000), default)).IsAdmitted);
    }

    [Fact]
    public async Task PatchAsync_RemoveCap_AdmitsAnyAmount()
    {
        var (key, _, caller) = await _h.MintAsync(capMicros: 10);

        var patched = await _h.Keys.PatchAsync(AccountEntity.DefaultId, key.Record.Id, new KeyPatch { MaxSpendMicros = new Settable<long?>(true, null) }, default);

        Assert.Null(patched!.Record.MaxSpendMicros);
        Assert.Null(patched.RemainingMicros);
        Assert.True((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1_000_000_000), default)).IsAdmitted);
    }

    [Fact]
    public async Task PatchAsync_LifetimeToDaily_CountsOnlyTodaysSpendAgainstTheCap()
    {
        var (key, _, caller) = await _h.MintAsync(capMicros: 1_000);
        _h.Guard.Settle((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(600), default)).Reservation!, MeteringHarness.Used(600));
        _h.Time.Advance(TimeSpan.FromDays(1));
        _h.Guard.Settle((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(300), default)).Reservation!, MeteringHarness.Used(300));

        var daily = await _h.Keys.PatchAsync(AccountEntity.DefaultId, key.Record.Id, new KeyPatch { LimitReset = LimitReset.Daily }, default);

        Assert.Equal(LimitReset.Daily, daily!.Record.LimitReset);
        Assert.Equal(300, daily.PeriodSpendMicros);
        Assert.Equal(700, daily.RemainingMicros);
        Assert.Equal(900, daily.LifetimeSpendMicros);
        Assert.True((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(700), default)).IsAdmitted);
        await using var db = _h.Db();
        var row = await db.ApiKeys.SingleAsync(k => k.Id == key.Record.Id);
        Assert.Equal("daily", row.LimitReset);
        Assert.Equal(300, row.PeriodSpendMicros);
    }

    [Fact]
    public async Task PatchAsync_LimitResetWhileChargesSettle_KeepsEveryChargeInThePeriodSpend()
    {
        var (key, _, caller) = await _h.MintAsync(capMicros: 1_000_000_000);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        long settled = 0;
        int charges = 0;
        var settling = Task.Run(() =>
        {
            // Charges keep settling in memory (ahead of the ledger writer) while the period is recounted.
            while (!stop.IsCancellationRequested && charges < 200_000)
            {
                // The ledger queue is bounded (Qlaud:Limits:LedgerQueueCapacity): while the writer catches up, a request is refused.
                if (_h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(10), default).AsTask().GetAwaiter().GetResult().Reservation is not { } reservation)
                {
                    Thread.Sleep(1);
                    continue;
                }

                _h.Guard.Settle(reservation, MeteringHarness.Used(7));
                settled += 7;
                charges++;
            }
        });

        await Task.Delay(20);
        var daily = await _h.Keys.PatchAsync(AccountEntity.DefaultId, key.Record.Id, new KeyPatch { LimitReset = LimitReset.Daily }, default);
        await stop.CancelAsync();
        await settling;
        await _h.Ledger.FlushAsync();

        Assert.Equal(LimitReset.Daily, daily!.Record.LimitReset);
        var view = await _h.Keys.GetAsync(AccountEntity.DefaultId, key.Record.Id, default);
        Assert.Equal(settled, view!.LifetimeSpendMicros);
        Assert.Equal(settled, view.PeriodSpendMicros); // every charge was made today
        await using var db = _h.Db();
        Assert.Equal(settled, await db.LedgerEntries.Where(e => e.KeyId == key.Record.Id).SumAsync(static e => e.CostMicros));
        Assert.Equal(settled, (await db.ApiKeys.SingleAsync(k => k.Id == key.Record.Id)).PeriodSpendMicros);
    }

    [Fact]
    public async Task RecentUsageAsync_ReturnsTheKeysEntriesNewestFirst()
    {
        var (key, _, caller) = await _h.MintAsync();
        var (_, _, other) = await _h.MintAsync(endUser: "other");
        for (int i = 0; i < 3; i++)
        {
            _h.Guard.Settle((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(10), default)).Reservation!, MeteringHarness.Used(i + 1, requestId: $"r{i}"));
        }

        _h.Guard.Settle((await _h.Guard.ReserveAsync(other, MeteringHarness.Estimate(10), default)).Reservation!, MeteringHarness.Used(5));

        var entries = await _h.Keys.RecentUsageAsync(AccountEntity.DefaultId, key.Record.Id, 2, default);

        Assert.Equal(["r2", "r1"], entries!.Select(static e => e.RequestId));
        Assert.Null(await _h.Keys.RecentUsageAsync(AccountEntity.DefaultId, "key_missing", 2, default));
    }
}
