using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.Routing;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Metering;

public class SpendGuardTests : StorageTestBase, IAsyncLifetime
{
    private MeteringHarness _h = null!;

    public async Task InitializeAsync() => _h = await StartHarnessAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task Estimate_RoutePlanWithoutMaxTokens_UsesTheModelMaximumTheDearestInputRateAndMarkup()
    {
        await using var h = await StartHarnessAsync(new Dictionary<string, string?> { ["Qlaud:Pricing:MarkupPercent"] = "20" });
        var plan = h.Services.GetRequiredService<Router>().Resolve("test-model");

        var estimate = h.Guard.Estimate(plan, inputTokens: 1_000, maxOutputTokens: null);
        var capped = h.Guard.Estimate(plan, inputTokens: 1_000, maxOutputTokens: 50);

        // 1000 × $1.25 (cache write, the dearest input rate) + 1000 (model maximum) × $2 = 3250 micro-USD, +20 % = 3900
        Assert.Equal(new SpendEstimate(1_000, 1_000, 3_900), estimate);
        Assert.Equal(new SpendEstimate(1_000, 50, 1_620), capped);
    }

    [Fact]
    public async Task ReserveAsync_WithinCap_AdmitsAndHoldsWorstCase()
    {
        var (_, _, caller) = await _h.MintAsync(capMicros: 1_000);

        var decision = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(600), default);

        Assert.True(decision.IsAdmitted);
        Assert.Equal(600, decision.Reservation!.AmountMicros);
        var view = await _h.Keys.GetAsync(AccountEntity.DefaultId, caller.KeyId!, default);
        Assert.Equal(1_000, view!.RemainingMicros); // reservations are not spend
    }

    [Fact]
    public async Task ReserveAsync_WorstCaseOverRemainingCap_Refuses402WithoutHolding()
    {
        var (_, _, caller) = await _h.MintAsync(capMicros: 1_000);
        var first = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(600), default);

        var second = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(600), default);

        Assert.True(first.IsAdmitted);
        Assert.False(second.IsAdmitted);
        Assert.Equal(QlaudErrorKind.PaymentRequired, second.Error!.Kind);
        Assert.Equal(402, second.Error.StatusCode);
        Assert.Equal("spend_limit_exceeded", second.Error.Code);
        _h.Guard.Release(first.Reservation!);
        Assert.True((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1_000), default)).IsAdmitted);
    }

    [Fact]
    public async Task ReserveAsync_CapSpent_Refuses402()
    {
        var (_, _, caller) = await _h.MintAsync(capMicros: 100);
        var reservation = (await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default)).Reservation!;
        _h.Guard.Settle(reservation, MeteringHarness.Used(100));

        var refused = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1), default);

        Assert.Equal(QlaudErrorKind.PaymentRequired, refused.Error!.Kind);
        Assert.Contains("reached its spend limit of $0.0001", refused.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settle_WithMarkup_ChargesUpstreamPlusMarkupRoundedUpAndFreesTheRest()
    {
        await using var h = await StartHarnessAsync(new Dictionary<string, string?> { ["Qlaud:Pricing:MarkupPercent"] = "12.5" });
        var (_, _, caller) = await h.MintAsync(capMicros: 10_000);
        var reservation = (await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(5_000), default)).Reservation!;

        h.Guard.Settle(reservation, MeteringHarness.Used(1_001)); // 1001 × 1.125 = 1126.125 → 1127

        await h.Ledger.FlushAsync();
        var view = await h.Keys.GetAsync(AccountEntity.DefaultId, caller.KeyId!, default);
        Assert.Equal(1_127, view!.PeriodSpendMicros);
        Assert.Equal(10_000 - 1_127, view.RemainingMicros);
        await using var db = h.Db();
        var entry = await db.LedgerEntries.SingleAsync();
        Assert.Equal(1_001, entry.UpstreamCostMicros);
        Assert.Equal(1_127, entry.CostMicros);
        Assert.Equal(-1_127, entry.AmountMicros);
        Assert.Equal(caller.KeyId, entry.KeyId);
        Assert.Equal("user-1", entry.EndUserId);
        Assert.Equal(LedgerEntryKind.Usage, entry.Kind);
        Assert.Equal(-1_127, (await db.Wallets.SingleAsync()).BalanceMicros);
    }

    [Fact]
    public async Task Settle_CalledTwice_ChargesOnce()
    {
        var (_, _, caller) = await _h.MintAsync(capMicros: 10_000);
        var reservation = (await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(500), default)).Reservation!;

        _h.Guard.Settle(reservation, MeteringHarness.Used(300));
        _h.Guard.Settle(reservation, MeteringHarness.Used(300));
        _h.Guard.Release(reservation);

        await _h.Ledger.FlushAsync();
        await using var db = _h.Db();
        Assert.Equal(1, await db.LedgerEntries.CountAsync());
        Assert.Equal(300, (await _h.Keys.GetAsync(AccountEntity.DefaultId, caller.KeyId!, default))!.PeriodSpendMicros);
    }

    [Fact]
    public async Task Release_FreesTheHoldWithoutCharging()
    {
        var (_, _, caller) = await _h.MintAsync(capMicros: 1_000);
        var reservation = (await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1_000), default)).Reservation!;

        _h.Guard.Release(reservation);

        Assert.True(reservation.IsCompleted);
        Assert.True((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1_000), default)).IsAdmitted);
        await _h.Ledger.FlushAsync();
        await using var db = _h.Db();
        Assert.Equal(0, await db.LedgerEntries.CountAsync());
    }

    [Fact]
    public async Task Settle_CostAboveReservation_BillsOnlyUpToTheCapAndWritesOffTheRest()
    {
        var (_, _, caller) = await _h.MintAsync(capMicros: 1_000);
        var reservation = (await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(800), default)).Reservation!;

        _h.Guard.Settle(reservation, MeteringHarness.Used(1_500));

        await _h.Ledger.FlushAsync();
        await using var db = _h.Db();
        var entry = await db.LedgerEntries.SingleAsync();
        Assert.Equal(1_000, entry.CostMicros);
        Assert.Equal(500, entry.WrittenOffMicros);
        Assert.Equal(0, (await _h.Keys.GetAsync(AccountEntity.DefaultId, caller.KeyId!, default))!.RemainingMicros);
    }

    [Fact]
    public async Task ReserveAsync_EnforcedWalletEmpty_Refuses402UntilCredited()
    {
        await using var h = await StartHarnessAsync(new Dictionary<string, string?> { ["Qlaud:Metering:EnforceWallet"] = "true" });
        var (_, _, caller) = await h.MintAsync();

        var refused = await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(10), default);
        await h.Wallets.ApplyAsync(new WalletChange(AccountEntity.DefaultId, LedgerEntryKind.Credit, 1_000), default);
        var admitted = await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1_000), default);
        var overdraw = await h.Guard.ReserveAsync(QlaudCaller.InProcess, MeteringHarness.Estimate(1), default);

        Assert.Equal(QlaudErrorKind.PaymentRequired, refused.Error!.Kind);
        Assert.Equal("insufficient_balance", refused.Error.Code);
        Assert.True(admitted.IsAdmitted);
        Assert.Equal("insufficient_balance", overdraw.Error!.Code);
    }

    [Fact]
    public async Task ReserveAsync_WalletNotEnforced_AdmitsAndWalletGoesNegative()
    {
        var reservation = (await _h.Guard.ReserveAsync(QlaudCaller.InProcess, MeteringHarness.Estimate(50), default)).Reservation!;
        _h.Guard.Settle(reservation, MeteringHarness.Used(40));

        var wallet = await _h.Wallets.GetAsync(AccountEntity.DefaultId, 10, default);

        Assert.Equal(-40, wallet!.BalanceMicros);
        Assert.False(wallet.Enforced);
        Assert.Null(Assert.Single(wallet.RecentEntries).KeyId);
    }

    [Fact]
    public async Task ReserveAsync_RevokedAfterAuthentication_Refuses401()
    {
        var (_, _, caller) = await _h.MintAsync();
        await _h.Keys.RevokeAsync(AccountEntity.DefaultId, caller.KeyId!, default);

        var decision = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1), default);

        Assert.Equal(QlaudErrorKind.Authentication, decision.Error!.Kind);
    }

    [Fact]
    public async Task ReserveAsync_OverRequestsPerMinute_Refuses429WithRetryAfter()
    {
        var (_, _, caller) = await _h.MintAsync(rpm: 2);

        var first = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1), default);
        var second = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1), default);
        var third = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1), default);

        Assert.True(first.IsAdmitted);
        Assert.True(second.IsAdmitted);
        Assert.Equal(QlaudErrorKind.RateLimited, third.Error!.Kind);
        Assert.Equal(429, third.Error.StatusCode);
        Assert.Equal("rate_limit_requests", third.Error.Code);
        Assert.InRange(third.Error.RetryAfter!.Value, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ReserveAsync_OverTokensPerMinute_Refuses429()
    {
        var (_, _, caller) = await _h.MintAsync(tpm: 1_000);

        var first = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1, inputTokens: 300, outputTokens: 300), default);
        var second = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1, inputTokens: 300, outputTokens: 300), default);

        Assert.True(first.IsAdmitted);
        Assert.Equal("rate_limit_tokens", second.Error!.Code);
        Assert.NotNull(second.Error.RetryAfter);
    }

    [Fact]
    public async Task Settle_DailyCap_StartsOverTheNextUtcDay()
    {
        var (_, _, caller) = await _h.MintAsync(capMicros: 100, reset: LimitReset.Daily);
        _h.Guard.Settle((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default)).Reservation!, MeteringHarness.Used(100));
        var refusedToday = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(1), default);

        _h.Time.Advance(TimeSpan.FromHours(12)); // 2026-11-25T00:00Z
        var admittedTomorrow = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default);

        Assert.False(refusedToday.IsAdmitted);
        Assert.True(admittedTomorrow.IsAdmitted);
        var view = await _h.Keys.GetAsync(AccountEntity.DefaultId, caller.KeyId!, default);
        Assert.Equal(0, view!.PeriodSpendMicros);
        Assert.Equal(100, view.LifetimeSpendMicros);
        Assert.Equal(new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), view.PeriodEndsAtMs);
    }

    [Fact]
    public async Task ReserveSettle_HundredsOfConcurrentRequestsOnOneCappedKey_SettledSpendNeverExceedsCap()
    {
        const long cap = 1_000_000;      // $1
        const long worstCase = 30_000;   // each request may cost up to 3 cents…
        const long upstream = 20_000;    // …and really costs 2 cents
        const int requests = 600;
        var (_, _, caller) = await _h.MintAsync(capMicros: cap);
        int admitted = 0, refused = 0, released = 0;

        await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            var decision = await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(worstCase), ct);
            if (!decision.IsAdmitted)
            {
                Assert.Equal(QlaudErrorKind.PaymentRequired, decision.Error!.Kind);
                Interlocked.Increment(ref refused);
                return;
            }

            Interlocked.Increment(ref admitted);
            await Task.Yield(); // the "upstream call": other reservations interleave here
            if (i % 10 == 0)
            {
                _h.Guard.Release(decision.Reservation!); // a failed upstream call: nothing charged
                Interlocked.Decrement(ref admitted);
                Interlocked.Increment(ref released);
            }
            else
            {
                _h.Guard.Settle(decision.Reservation!, MeteringHarness.Used(upstream, requestId: $"req-{i}"));
            }
        });

        // Refusals above happened while other requests held reservations; sequentially, the key fills up to the cap.
        int sequential = 0;
        while ((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(worstCase), default)).Reservation is { } more)
        {
            _h.Guard.Settle(more, MeteringHarness.Used(upstream));
            sequential++;
        }

        admitted += sequential;
        await _h.Ledger.FlushAsync();
        var view = await _h.Keys.GetAsync(AccountEntity.DefaultId, caller.KeyId!, default);
        Assert.Equal(requests + sequential, admitted + refused + released);
        Assert.True(view!.PeriodSpendMicros <= cap, $"spent {view.PeriodSpendMicros} > cap {cap}");
        Assert.Equal(admitted * upstream, view.PeriodSpendMicros);
        Assert.True(refused > 0, "the cap should have refused some requests");
        Assert.True(cap - view.PeriodSpendMicros < worstCase, "the guard should admit until the cap cannot hold another worst case");
        await using var db = _h.Db();
        Assert.Equal(admitted, await db.LedgerEntries.CountAsync(e => e.KeyId == caller.KeyId));
        Assert.Equal(view.PeriodSpendMicros, await db.LedgerEntries.Where(e => e.KeyId == caller.KeyId).SumAsync(e => e.CostMicros));
        var row = await db.ApiKeys.SingleAsync(k => k.Id == caller.KeyId);
        Assert.Equal(view.PeriodSpendMicros, row.SpendMicros);
        Assert.Equal(-view.PeriodSpendMicros, (await db.Wallets.SingleAsync()).BalanceMicros);
    }

    [Fact]
    public async Task ReserveSettle_ConcurrentKeysOnAnEnforcedWallet_NeverOverdrawTheWallet()
    {
        await using var h = await StartHarnessAsync(new Dictionary<string, string?> { ["Qlaud:Metering:EnforceWallet"] = "true" });
        await h.Wallets.ApplyAsync(new WalletChange(AccountEntity.DefaultId, LedgerEntryKind.Credit, 500_000), default);
        var callers = new List<QlaudCaller>();
        for (int i = 0; i < 5; i++)
        {
            callers.Add((await h.MintAsync(endUser: $"user-{i}")).Caller);
        }

        int admitted = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            var decision = await h.Guard.ReserveAsync(callers[i % callers.Count], MeteringHarness.Estimate(10_000), ct);
            if (decision.IsAdmitted)
            {
                Interlocked.Increment(ref admitted);
                await Task.Yield();
                h.Guard.Settle(decision.Reservation!, MeteringHarness.Used(7_000));
            }
        });

        var wallet = await h.Wallets.GetAsync(AccountEntity.DefaultId, 0, default);
        Assert.True(wallet!.BalanceMicros >= 0, $"balance {wallet.BalanceMicros}");
        Assert.Equal(500_000 - (admitted * 7_000), wallet.BalanceMicros);
        Assert.Equal(0, wallet.ReservedMicros);
    }

    [Fact]
    public async Task FromRoute_NoUpstreamUsage_ChargesTheEstimateAndMarksItEstimated()
    {
        var (_, _, caller) = await _h.MintAsync(capMicros: 1_000_000);
        var reservation = (await _h.Guard.ReserveAsync(caller, new SpendEstimate(1_000, 500, 10_000), default)).Reservation!;

        _h.Guard.Settle(reservation, SettledUsage.FromRoute(_h.Route, usage: null, reservation, generatedOutputTokens: 200, requestId: "req-x"));

        await _h.Ledger.FlushAsync();
        await using var db = _h.Db();
        var entry = await db.LedgerEntries.SingleAsync();
        Assert.True(entry.Estimated);
        Assert.Equal(1_000, entry.InputTokens);
        Assert.Equal(200, entry.OutputTokens);
        Assert.Equal(1_400, entry.CostMicros); // 1000 × $1/MTok + 200 × $2/MTok
        Assert.Equal("test/test-model", entry.Route);
        Assert.Equal("req-x", entry.RequestId);
    }
}
