using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Metering;
using Qlaud.Metering.Leasing;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Metering.Leasing;

/// <summary>Budget leasing across gateway instances: two or three sets of Qlaud's services ("nodes", each its own service
/// provider and clock) on one database of the test process's PostgreSQL server.</summary>
public sealed class BudgetLeasesPostgresTests : IAsyncLifetime
{
    private readonly List<MeteringHarness> _nodes = [];
    private MeteringHarness _owner = null!;

    public async Task InitializeAsync() => _owner = await MeteringHarness.StartAsync(Settings(), storage: MeteringHarness.Postgres);

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        await _owner.DisposeAsync();
    }

    private static Dictionary<string, string?> Settings(string sliceUsd = "1", string percent = "100", string leaseSeconds = "10", bool enforceWallet = false) => new()
    {
        ["Qlaud:Storage:LeaseSliceUsd"] = sliceUsd,
        ["Qlaud:Storage:LeaseSlicePercent"] = percent,
        ["Qlaud:Storage:LeaseSeconds"] = leaseSeconds,
        ["Qlaud:Metering:EnforceWallet"] = enforceWallet ? "true" : "false",
    };

    /// <summary>Another node on the owner's database (its own services, clock and lease node id).</summary>
    private async Task<MeteringHarness> NodeAsync(Dictionary<string, string?>? settings = null, DateTimeOffset? now = null)
    {
        var node = await MeteringHarness.StartAsync(settings ?? Settings(), now ?? _owner.Time.GetUtcNow(), databasePath: _owner.DatabasePath, storage: MeteringHarness.Postgres);
        node.KeepDatabase = true;
        _nodes.Add(node);
        return node;
    }

    private static async Task<QlaudCaller> CallerAsync(MeteringHarness node, string secret) => (await node.Authenticator.AuthenticateAsync(secret, default)).Caller!;

    [Fact]
    public async Task Reserve_ThreeNodesHammerOneCappedKey_SettledSpendNeverExceedsTheCap()
    {
        const long Cap = 100_000, WorstCase = 3_000, Cost = 2_000;
        var nodes = new[] { _owner, await NodeAsync(Settings(sliceUsd: "0.02", percent: "50")), await NodeAsync(Settings(sliceUsd: "0.02", percent: "50")) };
        var (key, secret, _) = await _owner.MintAsync(capMicros: Cap);
        int admitted = 0, refused = 0;

        // Each node: four workers, 20 requests each (bounded); 240 requests want 480,000 against a 100,000 cap.
        await Task.WhenAll(nodes.SelectMany(node => Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var caller = await CallerAsync(node, secret);
            for (int i = 0; i < 20; i++)
            {
                var decision = await node.Guard.ReserveAsync(caller, MeteringHarness.Estimate(WorstCase), default);
                if (decision.Reservation is { } reservation)
                {
                    Interlocked.Increment(ref admitted);
                    await Task.Yield();
                    node.Guard.Settle(reservation, MeteringHarness.Used(Cost));
                }
                else
                {
                    Assert.Equal("spend_limit_exceeded", decision.Error!.Code);
                    Assert.Equal(402, decision.Error.StatusCode);
                    Interlocked.Increment(ref refused);
                }
            }
        }))));
        foreach (var node in nodes)
        {
            await node.Ledger.FlushAsync();
        }

        var state = await LeaseLedger.ReadAsync(_owner, key.Record.Id);
        state.AssertInvariant(walletEnforced: false);
        Assert.Equal(admitted * Cost, state.KeyLedger);
        Assert.True(state.KeyLedger <= Cap);
        Assert.Equal(240, admitted + refused);
        // Worst cases are held against leases, so the last requests are refused once less than a worst case is left anywhere:
        // at most each node's unusable remainder (under 3,000 each) goes unspent.
        Assert.True(state.KeyLedger >= Cap - (3 * WorstCase), $"spent {state.KeyLedger} of {Cap}");
    }

    [Fact]
    public async Task Reserve_NodeCrashedHoldingTheWholeCap_BudgetReturnsToThePoolWhenItsLeaseExpires()
    {
        var (key, secret, callerA) = await _owner.MintAsync(capMicros: 10_000);
        var crashing = await NodeAsync();
        var survivor = await NodeAsync();
        var onCrashing = await CallerAsync(crashing, secret);
        crashing.Guard.Settle((await crashing.Guard.ReserveAsync(onCrashing, MeteringHarness.Estimate(1_000), default)).Reservation!, MeteringHarness.Used(1_000));
        await crashing.Ledger.FlushAsync();

        // The crash: no renewal, no hand-back (its lease row, 9,000, stays until it expires).
        crashing.Services.GetRequiredService<BudgetLeases>().Abandon();
        _nodes.Remove(crashing);
        crashing.KeepDatabase = true;
        await crashing.DisposeAsync();
        var onSurvivor = await CallerAsync(survivor, secret);
        var whileLeased = await survivor.Guard.ReserveAsync(onSurvivor, MeteringHarness.Estimate(5_000), default);
        var held = await LeaseLedger.ReadAsync(_owner, key.Record.Id);

        survivor.Time.Advance(TimeSpan.FromSeconds(11));
        var afterExpiry = await survivor.Guard.ReserveAsync(onSurvivor, MeteringHarness.Estimate(9_000), default);
        var overCap = await survivor.Guard.ReserveAsync(onSurvivor, MeteringHarness.Estimate(1), default);

        Assert.Equal("spend_limit_exceeded", whileLeased.Error!.Code);
        Assert.Equal(9_000, held.KeyLeased);
        Assert.Equal(1_000, held.PeriodSpend);
        Assert.True(afterExpiry.IsAdmitted);
        Assert.Equal("spend_limit_exceeded", overCap.Error!.Code);
        survivor.Guard.Settle(afterExpiry.Reservation!, MeteringHarness.Used(9_000));
        await survivor.Ledger.FlushAsync();
        var after = await LeaseLedger.ReadAsync(_owner, key.Record.Id);
        after.AssertInvariant(walletEnforced: false);
        Assert.Equal(10_000, after.KeyLedger);
    }

    [Fact]
    public async Task Settle_CommitDelayedPastTheLeasesExpiryWhileAnotherNodeSpendsTheReclaimedBudget_TheLateChargeIsWrittenOffAndTheCapHolds()
    {
        // Node a reaches the database through a proxy that the test can hold, as a network partition would.
        var server = new Npgsql.NpgsqlConnectionStringBuilder(_owner.DatabasePath);
        await using var proxy = PausableTcpProxy.Start(server.Host!, server.Port);
        var throughProxy = new Npgsql.NpgsqlConnectionStringBuilder(_owner.DatabasePath) { Host = "127.0.0.1", Port = proxy.Port }.ConnectionString;
        var a = await MeteringHarness.StartAsync(Settings(), _owner.Time.GetUtcNow(), databasePath: throughProxy, storage: MeteringHarness.Postgres);
        a.KeepDatabase = true;
        _nodes.Add(a);
        var b = await NodeAsync();
        var (key, secret, _) = await _owner.MintAsync(capMicros: 10_000);

        // a leases the whole cap and admits a request while its lease is valid.
        var reserved = await a.Guard.ReserveAsync(await CallerAsync(a, secret), MeteringHarness.Estimate(1_000), default);
        Assert.True(reserved.IsAdmitted);
        Assert.Equal(10_000, (await LeaseLedger.ReadAsync(_owner, key.Record.Id)).KeyLeased);

        // a loses the database, settles the request (its ledger commit now waits in the partition), and cannot renew.
        proxy.Pause();
        a.Guard.Settle(reserved.Reservation!, MeteringHarness.Used(1_000));
        var aCommit = a.Ledger.FlushAsync();

        // Past a's lease expiry, b reclaims the budget and spends almost all of it, committed.
        b.Time.Advance(TimeSpan.FromSeconds(11));
        var onB = await CallerAsync(b, secret);
        var spent = await b.Guard.ReserveAsync(onB, MeteringHarness.Estimate(9_500), default);
        Assert.True(spent.IsAdmitted);
        b.Guard.Settle(spent.Reservation!, MeteringHarness.Used(9_500));
        await b.Ledger.FlushAsync();
        var beforeLateCommit = await LeaseLedger.ReadAsync(_owner, key.Record.Id);
        beforeLateCommit.AssertInvariant(walletEnforced: false);
        Assert.Equal(9_500, beforeLateCommit.PeriodSpend);
        Assert.False(aCommit.IsCompleted);

        // The partition ends: a's transaction commits its charge, whose lease row is gone.
        proxy.Resume();
        await aCommit.WaitAsync(TimeSpan.FromSeconds(30));
        var after = await LeaseLedger.ReadAsync(_owner, key.Record.Id);

        after.AssertInvariant(walletEnforced: false); // spend + leases within the cap; spend equal to the ledger
        Assert.Equal(9_500, after.PeriodSpend);
        Assert.Equal(9_500, after.KeyLedger);
        await using var db = _owner.Db();
        var late = await db.LedgerEntries.SingleAsync(e => e.KeyId == key.Record.Id && e.WrittenOffMicros > 0);
        Assert.Equal((0L, 0L, 1_000L), (late.CostMicros, late.AmountMicros, late.WrittenOffMicros)); // recorded, not billed
        Assert.Equal(after.Balance, after.WalletLedger);
    }

    [Fact]
    public async Task Stop_CleanShutdown_HandsTheUnusedBudgetBackAtOnce()
    {
        var (key, secret, _) = await _owner.MintAsync(capMicros: 10_000);
        var leaving = await NodeAsync();
        var staying = await NodeAsync();
        var onLeaving = await CallerAsync(leaving, secret);
        leaving.Guard.Settle((await leaving.Guard.ReserveAsync(onLeaving, MeteringHarness.Estimate(1_000), default)).Reservation!, MeteringHarness.Used(400));
        var onStaying = await CallerAsync(staying, secret);
        var whileHeld = await staying.Guard.ReserveAsync(onStaying, MeteringHarness.Estimate(9_600), default);

        _nodes.Remove(leaving);
        await leaving.DisposeAsync(); // stops the ledger writer (commits the 400), then hands the lease back
        var handedBack = await LeaseLedger.ReadAsync(_owner, key.Record.Id);
        var afterHandBack = await staying.Guard.ReserveAsync(onStaying, MeteringHarness.Estimate(9_600), default);

        Assert.False(whileHeld.IsAdmitted);
        Assert.Equal(0, handedBack.KeyLeased);
        Assert.Equal(0, handedBack.LeaseRows);
        Assert.Equal(400, handedBack.PeriodSpend);
        Assert.True(afterHandBack.IsAdmitted);
    }

    [Fact]
    public async Task Reserve_EnforcedWalletSharedByTwoNodes_NeverOverdrawn()
    {
        const long Balance = 50_000;
        await _owner.DisposeAsync();
        _owner = await MeteringHarness.StartAsync(Settings(sliceUsd: "0.01", enforceWallet: true), storage: MeteringHarness.Postgres);
        var other = await NodeAsync(Settings(sliceUsd: "0.01", enforceWallet: true));
        await _owner.Wallets.ApplyAsync(new WalletChange(AccountEntity.DefaultId, LedgerEntryKind.Credit, Balance), default);
        var (key, secret, _) = await _owner.MintAsync();
        int admitted = 0;
        await Task.WhenAll(new[] { _owner, other }.SelectMany(node => Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            var caller = await CallerAsync(node, secret);
            for (int i = 0; i < 25; i++)
            {
                var decision = await node.Guard.ReserveAsync(i % 2 == 0 ? caller : QlaudCaller.InProcess, MeteringHarness.Estimate(1_500), default);
                if (decision.Reservation is { } reservation)
                {
                    Interlocked.Increment(ref admitted);
                    node.Guard.Settle(reservation, MeteringHarness.Used(1_000));
                }
                else
                {
                    Assert.Equal("insufficient_balance", decision.Error!.Code);
                }
            }
        }))));
        await _owner.Ledger.FlushAsync();
        await other.Ledger.FlushAsync();

        var state = await LeaseLedger.ReadAsync(_owner, key.Record.Id);
        state.AssertInvariant(walletEnforced: true);
        Assert.True(state.Balance >= 0, $"balance {state.Balance}");
        Assert.Equal(Balance - (admitted * 1_000L), state.Balance);
        Assert.Equal(state.Balance, state.WalletLedger);
    }

    [Fact]
    public async Task Reserve_TwoLiveNodes_EachAdmitsItsShareOfTheKeysRequestsPerMinute()
    {
        var other = await NodeAsync();
        var (_, secret, onOwner) = await _owner.MintAsync(rpm: 4);
        await _owner.Services.GetRequiredService<BudgetLeases>().HeartbeatAsync(default);
        await other.Services.GetRequiredService<BudgetLeases>().HeartbeatAsync(default);
        await _owner.Services.GetRequiredService<BudgetLeases>().HeartbeatAsync(default);
        var onOther = await CallerAsync(other, secret);

        var owner = new List<SpendDecision>();
        var others = new List<SpendDecision>();
        for (int i = 0; i < 3; i++)
        {
            owner.Add(await _owner.Guard.ReserveAsync(onOwner, MeteringHarness.Estimate(1), default));
            others.Add(await other.Guard.ReserveAsync(onOther, MeteringHarness.Estimate(1), default));
        }

        Assert.Equal(2, _owner.Services.GetRequiredService<BudgetLeases>().LiveNodes);
        Assert.Equal([true, true, false], owner.Select(static d => d.IsAdmitted));
        Assert.Equal([true, true, false], others.Select(static d => d.IsAdmitted));
        Assert.Equal("rate_limit_requests", owner[2].Error!.Code);
        Assert.Contains("4 requests per minute", owner[2].Error!.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task RandomInterleavings_LeaseReserveSettleExpire_SpendPlusLeasesNeverExceedCapOrBalance(int seed)
    {
        const long Cap = 40_000, Balance = 60_000;
        var random = new Random(seed);
        var settings = Settings(sliceUsd: "0.006", percent: "50", leaseSeconds: "8", enforceWallet: true);
        await _owner.DisposeAsync();
        _owner = await MeteringHarness.StartAsync(settings, storage: MeteringHarness.Postgres);
        await _owner.Wallets.ApplyAsync(new WalletChange(AccountEntity.DefaultId, LedgerEntryKind.Credit, Balance), default);
        var (key, secret, _) = await _owner.MintAsync(capMicros: Cap);
        var nodes = new List<MeteringHarness> { await NodeAsync(settings), await NodeAsync(settings), await NodeAsync(settings) };
        var open = nodes.ToDictionary(static n => n, static _ => new List<SpendReservation>());
        long billedUpperBound = 0;

        for (int step = 0; step < 80; step++)
        {
            var node = nodes[random.Next(nodes.Count)];
            var held = open[node];
            switch (random.Next(10))
            {
                case < 4:
                    var caller = random.Next(3) == 0 ? QlaudCaller.InProcess : await CallerAsync(node, secret);
                    var decision = await node.Guard.ReserveAsync(caller, MeteringHarness.Estimate(random.Next(100, 5_000)), default);
                    if (decision.Reservation is { } reservation)
                    {
                        held.Add(reservation);
                    }
                    else
                    {
                        Assert.Equal(402, decision.Error!.StatusCode);
                    }

                    break;
                case < 6 when held.Count > 0:
                    var settling = held[random.Next(held.Count)];
                    held.Remove(settling);
                    // Sometimes more than the worst case: billed only up to what the leases still fund.
                    long cost = random.Next(0, (int)(settling.AmountMicros * 3 / 2));
                    billedUpperBound += cost;
                    node.Guard.Settle(settling, MeteringHarness.Used(cost));
                    break;
                case 6 when held.Count > 0:
                    var releasing = held[random.Next(held.Count)];
                    held.Remove(releasing);
                    node.Guard.Release(releasing);
                    break;
                case 7:
                    await node.Ledger.FlushAsync();
                    break;
                case 8:
                    // Time passes for everyone (less than the lease time, as between two renewals); each live node's
                    // background round renews its leases, reclaims expired ones (a crashed node's) and gives idle ones back.
                    var by = TimeSpan.FromMilliseconds(random.Next(0, 5_000));
                    foreach (var n in nodes)
                    {
                        n.Time.Advance(by);
                    }

                    _owner.Time.Advance(by);
                    foreach (var n in nodes.OrderBy(_ => random.Next()))
                    {
                        await n.Services.GetRequiredService<BudgetLeases>().RoundAsync(default);
                    }

                    break;
                default:
                    // A node goes away, crashed (its leases wait for expiry) or cleanly (handed back), and a new one joins.
                    if (random.Next(2) == 0)
                    {
                        node.Services.GetRequiredService<BudgetLeases>().Abandon();
                    }

                    foreach (var leaving in held)
                    {
                        node.Guard.Release(leaving);
                    }

                    nodes.Remove(node);
                    _nodes.Remove(node);
                    open.Remove(node);
                    await node.DisposeAsync();
                    var joined = await NodeAsync(settings, node.Time.GetUtcNow());
                    nodes.Add(joined);
                    open[joined] = [];
                    break;
            }

            // Whatever is committed at this moment: spend plus leases within the cap and the balance.
            (await LeaseLedger.ReadAsync(_owner, key.Record.Id)).AssertInvariant(walletEnforced: true);
        }

        foreach (var (node, held) in open)
        {
            foreach (var reservation in held)
            {
                node.Guard.Release(reservation);
            }

            await node.Ledger.FlushAsync();
        }

        var final = await LeaseLedger.ReadAsync(_owner, key.Record.Id);
        final.AssertInvariant(walletEnforced: true);
        Assert.True(final.KeyLedger <= Cap);
        Assert.True(final.Balance >= 0);
        Assert.True(final.KeyLedger <= billedUpperBound);
        Assert.Equal(final.Balance, final.WalletLedger);
    }
}
