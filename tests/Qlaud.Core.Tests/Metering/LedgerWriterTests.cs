using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Metering;
using Qlaud.Storage;
using Qlaud;

namespace Qlaud.Core.Tests.Metering;

public class LedgerWriterTests : StorageTestBase, IAsyncLifetime
{
    private MeteringHarness _h = null!;

    public async Task InitializeAsync() => _h = await StartHarnessAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task StopAsync_WithQueuedEntries_WritesEveryOneBeforeStopping()
    {
        var (_, _, caller) = await _h.MintAsync(capMicros: 100_000_000);
        for (int i = 0; i < 250; i++)
        {
            _h.Guard.Settle((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default)).Reservation!, MeteringHarness.Used(7));
        }

        await _h.Ledger.StopAsync(CancellationToken.None);

        await using var db = _h.Db();
        Assert.Equal(250, await db.LedgerEntries.CountAsync());
        Assert.Equal(-1_750, (await db.Wallets.SingleAsync()).BalanceMicros);
        Assert.Equal(1_750, (await db.ApiKeys.SingleAsync()).SpendMicros);
    }

    [Fact]
    public async Task Enqueue_AfterStop_StillWritesTheEntry()
    {
        var (_, _, caller) = await _h.MintAsync();
        var reservation = (await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default)).Reservation!;
        await _h.Ledger.StopAsync(CancellationToken.None);

        _h.Guard.Settle(reservation, MeteringHarness.Used(9));

        await using var db = _h.Db();
        Assert.Equal(9, (await db.LedgerEntries.SingleAsync()).CostMicros);
    }

    [Fact]
    public async Task Restart_OnTheSameDatabase_KeepsKeysSpendBalancesAndLedger()
    {
        var (key, secret, caller) = await _h.MintAsync(capMicros: 1_000);
        await _h.Wallets.ApplyAsync(new WalletChange(AccountEntity.DefaultId, LedgerEntryKind.Credit, 5_000, "seed"), default);
        _h.Guard.Settle((await _h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(800), default)).Reservation!, MeteringHarness.Used(800));

        await _h.RestartAsync();

        var again = (await _h.Authenticator.AuthenticateAsync(secret, default)).Caller;
        Assert.Equal(key.Record.Id, again!.KeyId);
        var view = await _h.Keys.GetAsync(AccountEntity.DefaultId, key.Record.Id, default);
        Assert.Equal(800, view!.PeriodSpendMicros);
        Assert.Equal(200, view.RemainingMicros);
        Assert.False((await _h.Guard.ReserveAsync(again, MeteringHarness.Estimate(201), default)).IsAdmitted);
        Assert.True((await _h.Guard.ReserveAsync(again, MeteringHarness.Estimate(200), default)).IsAdmitted);
        var wallet = await _h.Wallets.GetAsync(AccountEntity.DefaultId, 10, default);
        Assert.Equal(4_200, wallet!.BalanceMicros);
        Assert.Equal([LedgerEntryKind.Usage, LedgerEntryKind.Credit], wallet.RecentEntries.Select(static e => e.Kind));
    }

    [Fact]
    public async Task Commit_WhileTheDatabaseRejectsWrites_RetriesOnANewConnectionAndLosesNothing()
    {
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = await StartHarnessAsync(logs: new LogSink((_, _, id, _) =>
        {
            if (id.Name == "BatchFailed")
            {
                failed.TrySetResult();
            }
        }));
        var (_, _, caller) = await h.MintAsync(capMicros: 100_000_000);
        h.Guard.Settle((await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default)).Reservation!, MeteringHarness.Used(5));
        await h.Ledger.FlushAsync(); // the writer's connection and statements are open and prepared now

        await MoveLedgerTableAsync(h, away: true);
        for (int i = 0; i < 3; i++)
        {
            h.Guard.Settle((await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default)).Reservation!, MeteringHarness.Used(7));
        }

        var flushed = h.Ledger.FlushAsync();
        await failed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(flushed.IsCompleted);
        await MoveLedgerTableAsync(h, away: false);
        await flushed.WaitAsync(TimeSpan.FromSeconds(30));

        await using var db = h.Db();
        Assert.Equal([5, 7, 7, 7], await db.LedgerEntries.OrderBy(static e => e.Id).Select(static e => e.CostMicros).ToListAsync());
        Assert.Equal(-26, (await db.Wallets.SingleAsync()).BalanceMicros);
        Assert.Equal(26, (await db.ApiKeys.SingleAsync()).SpendMicros);
    }

    [Fact]
    public async Task AdmissionError_WhileCommitsFail_RefusesCostlyRequestsAdmitsFreeOnesAndRecovers()
    {
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = await StartHarnessAsync(logs: new LogSink((_, _, id, _) =>
        {
            if (id.Name == "BatchFailed")
            {
                failed.TrySetResult();
            }
        }));
        var (_, _, caller) = await h.MintAsync(capMicros: 100_000_000);
        await MoveLedgerTableAsync(h, away: true);
        try
        {
            h.Guard.Settle((await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default)).Reservation!, MeteringHarness.Used(7));
            await failed.Task.WaitAsync(TimeSpan.FromSeconds(30));

            var refused = await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default);
            var free = await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(0), default);
            var flush = await Record.ExceptionAsync(() => h.Ledger.FlushAsync());

            Assert.Equal("ledger_unavailable", refused.Error?.Code);
            Assert.Equal(QlaudErrorKind.Unavailable, refused.Error!.Kind);
            Assert.True(free.IsAdmitted);
            h.Guard.Release(free.Reservation!);
            Assert.IsType<StorageUnavailableException>(flush);
            Assert.NotNull(h.Ledger.FailingSince);
        }
        finally
        {
            await MoveLedgerTableAsync(h, away: false); // else the harness's shutdown would wait for the writer forever
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (h.Ledger.FailingSince is not null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20); // the writer retries with a back-off of 100 ms, 200 ms, …
        }

        Assert.True((await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default)).IsAdmitted);
        await h.Ledger.FlushAsync();
        await using var db = h.Db();
        Assert.Equal(7, (await db.LedgerEntries.SingleAsync()).CostMicros);
    }

    [Fact]
    public async Task AdmissionError_QueueAtCapacity_RefusesEveryMeteredRequestButQueuesWhatWasAdmitted()
    {
        await using var h = await StartHarnessAsync(settings: new Dictionary<string, string?> { ["Qlaud:Limits:LedgerQueueCapacity"] = "100" });
        var (_, _, caller) = await h.MintAsync(capMicros: 100_000_000);
        await MoveLedgerTableAsync(h, away: true);
        try
        {
            var admitted = new List<SpendReservation>();
            for (int i = 0; i < 101; i++)
            {
                admitted.Add((await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(0), default)).Reservation!);
            }

            foreach (var reservation in admitted)
            {
                h.Guard.Settle(reservation, MeteringHarness.Used(0));
            }

            var refused = await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(0), default);

            Assert.Equal("ledger_queue_full", refused.Error?.Code);
            Assert.Equal(QlaudErrorKind.Unavailable, refused.Error!.Kind);
            Assert.True(h.Ledger.Queued >= 100);
        }
        finally
        {
            await MoveLedgerTableAsync(h, away: false);
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (h.Ledger.Queued > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        await h.Ledger.FlushAsync();
        await using var db = h.Db();
        Assert.Equal(101, await db.LedgerEntries.CountAsync());
    }

    [Fact]
    public async Task AdmitAsync_BacklogAtMaxUnwrittenEntries_WaitsUntilTheWriterCommitsBelowIt()
    {
        await using var h = await StartHarnessAsync(settings: new Dictionary<string, string?> { ["Qlaud:Metering:MaxUnwrittenEntries"] = "4" });
        var (_, _, caller) = await h.MintAsync(capMicros: 100_000_000);
        Task<SpendDecision> waiting;
        await using (var blocker = await HoldWriteLockAsync(h))
        {
            for (int i = 0; i < 4; i++)
            {
                h.Guard.Settle((await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default)).Reservation!, MeteringHarness.Used(7));
            }

            waiting = h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default).AsTask();
            await Task.Delay(500);

            Assert.False(waiting.IsCompleted); // neither admitted nor refused while 4 entries wait
            Assert.Equal(4, h.Ledger.Queued);
        }

        var decision = await waiting.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(decision.IsAdmitted);
        h.Guard.Settle(decision.Reservation!, MeteringHarness.Used(7));
        await h.Ledger.FlushAsync();
        await using var db = h.Db();
        Assert.Equal(5, await db.LedgerEntries.CountAsync());
    }

    [Fact]
    public async Task AdmitAsync_BacklogStaysAtMaxUnwrittenEntriesPastTheStorageTimeout_RefusesWithLedgerQueueFull()
    {
        await using var h = await StartHarnessAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Metering:MaxUnwrittenEntries"] = "2",
            ["Qlaud:Limits:StorageTimeoutSeconds"] = "0.3",
        });
        var (_, _, caller) = await h.MintAsync(capMicros: 100_000_000);
        await using (var blocker = await HoldWriteLockAsync(h))
        {
            for (int i = 0; i < 2; i++)
            {
                h.Guard.Settle((await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default)).Reservation!, MeteringHarness.Used(7));
            }

            var clock = System.Diagnostics.Stopwatch.StartNew();
            var refused = await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(20));
            Assert.Equal("ledger_queue_full", refused.Error?.Code);
            Assert.Equal(QlaudErrorKind.Unavailable, refused.Error!.Kind);
            Assert.Contains("Qlaud:Metering:MaxUnwrittenEntries", refused.Error.Message, StringComparison.Ordinal);
        }

        await FlushWithinAsync(h, TimeSpan.FromSeconds(10));
        Assert.True((await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default)).IsAdmitted); // the backlog was written
        await using var db = h.Db();
        Assert.Equal(2, await db.LedgerEntries.CountAsync());
        Assert.Equal(14, (await db.ApiKeys.SingleAsync()).SpendMicros); // the refused request charged nothing
    }

    [Fact]
    public async Task LedgerHealthCheck_BacklogAtMaxUnwrittenEntries_IsDegradedUntilTheWriterCatchesUp()
    {
        await using var h = await StartHarnessAsync(settings: new Dictionary<string, string?> { ["Qlaud:Metering:MaxUnwrittenEntries"] = "3" });
        var check = new Qlaud.Health.LedgerHealthCheck(h.Ledger);
        var (_, _, caller) = await h.MintAsync(capMicros: 100_000_000);
        await using (var blocker = await HoldWriteLockAsync(h))
        {
            for (int i = 0; i < 3; i++)
            {
                h.Guard.Settle((await h.Guard.ReserveAsync(caller, MeteringHarness.Estimate(100), default)).Reservation!, MeteringHarness.Used(7));
            }

            var behind = await check.CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());

            Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded, behind.Status);
            Assert.Equal(3, behind.Data["queued"]);
            Assert.Equal(3, behind.Data["max_unwritten"]);
        }

        await h.Ledger.FlushAsync();
        var caughtUp = await check.CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, caughtUp.Status);
    }

    /// <summary>Holds the ledger's write lock from another connection (the writer's commit waits for it) until disposed:
    /// SQLite's database lock, or an exclusive lock on PostgreSQL's ledger table.</summary>
    private static async Task<System.Data.Common.DbConnection> HoldWriteLockAsync(MeteringHarness h)
    {
        System.Data.Common.DbConnection connection = h.Storage == MeteringHarness.Postgres
            ? new Npgsql.NpgsqlConnection(h.DatabasePath + ";Pooling=False")
            : new SqliteConnection($"Data Source={h.DatabasePath};Pooling=False");
        await connection.OpenAsync();
        using var begin = connection.CreateCommand();
        begin.CommandText = h.Storage == MeteringHarness.Postgres ? "BEGIN; LOCK TABLE \"LedgerEntries\" IN EXCLUSIVE MODE" : "BEGIN IMMEDIATE";
        await begin.ExecuteNonQueryAsync();
        return connection; // disposing the connection rolls the open transaction back and releases the lock
    }

    /// <summary>Flushes, retrying a flush that outlived the harness's short storage timeout: the writer catches up once the lock
    /// is gone, which over PostgreSQL's round trips on a busy machine can take longer than that timeout.</summary>
    private static async Task FlushWithinAsync(MeteringHarness h, TimeSpan limit)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await h.Ledger.FlushAsync();
                return;
            }
            catch (Qlaud.Storage.StorageUnavailableException) when (clock.Elapsed < limit)
            {
            }
        }
    }

    /// <summary>Takes the ledger table away (every write to it fails) or puts it back.</summary>
    private static async Task MoveLedgerTableAsync(MeteringHarness h, bool away)
    {
        await using var db = h.Db();
        await db.Database.ExecuteSqlRawAsync(away
            ? "ALTER TABLE \"LedgerEntries\" RENAME TO \"LedgerEntriesAway\""
            : "ALTER TABLE \"LedgerEntriesAway\" RENAME TO \"LedgerEntries\"");
    }
}
