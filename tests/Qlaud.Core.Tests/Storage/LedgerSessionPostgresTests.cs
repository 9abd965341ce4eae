using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Metering.Leasing;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Storage;

/// <summary>The ledger session's PostgreSQL batch path (set-based statements sent as one batch) against its per-statement
/// command path, each on its own fresh database of the test process's PostgreSQL server, set up alike.</summary>
public sealed class LedgerSessionPostgresTests : IAsyncLifetime
{
    private const string Node = "node-a";
    private static readonly string[] Accounts = [AccountEntity.DefaultId, "acct-b", "acct-c"];
    private static readonly string[] Keys = ["key-1", "key-2", "key-3", "key-4", "key-5"];

    private MeteringHarness _commands = null!, _batch = null!;

    public async Task InitializeAsync()
    {
        _commands = await MeteringHarness.StartAsync(storage: MeteringHarness.Postgres);
        _batch = await MeteringHarness.StartAsync(storage: MeteringHarness.Postgres);
        await SeedAsync(_commands);
        await SeedAsync(_batch);
    }

    public async Task DisposeAsync()
    {
        await _commands.DisposeAsync();
        await _batch.DisposeAsync();
    }

    [Fact]
    public async Task WriteAsync_ManyEntriesKeysWalletsAndLeases_BatchPathStoresExactlyWhatTheCommandPathStores()
    {
        var (entries, wallets, keys, leased) = Batch();
        foreach (var (harness, native) in new[] { (_commands, false), (_batch, true) })
        {
            await using var session = await LedgerSession.OpenAsync(Factory(harness), default, native);
            await session.WriteAsync(entries, wallets, keys, 1_700_000_009_000, yieldCore: false, default, leased, Node);

            // A second batch on the same session (the prepared statements are reused with other array lengths).
            await session.WriteAsync([Entry("acct-b", "key-2", 7, 1_700_000_010_000, "late")], new Dictionary<string, long> { ["acct-b"] = -7 },
                [new KeySpend("key-2", 2_000, 7, 1_700_000_010_000)], 1_700_000_010_500, yieldCore: false, default);
        }

        var expected = await SnapshotAsync(_commands);
        var actual = await SnapshotAsync(_batch);
        Assert.Equal(entries.Count + 1, expected.Count(static row => row.StartsWith("ledger", StringComparison.Ordinal)));
        Assert.Equal(expected, actual);

        // What the rows must be, independently of the command path: spend is the ledger's sum per key, balances move by the
        // ledger's amounts, each key's period follows its newest charge, and the leases and leased totals shrank by what was billed.
        await using var db = _batch.Db();
        var ledger = await db.LedgerEntries.AsNoTracking().ToListAsync();
        var stored = await db.ApiKeys.AsNoTracking().ToDictionaryAsync(static k => k.Id);
        foreach (string id in Keys)
        {
            Assert.Equal(100 + ledger.Where(e => e.KeyId == id).Sum(static e => e.CostMicros), stored[id].SpendMicros);
        }

        foreach (string account in Accounts)
        {
            Assert.Equal(1_000_000 + ledger.Where(e => e.AccountId == account).Sum(static e => e.AmountMicros),
                (await db.Wallets.AsNoTracking().SingleAsync(w => w.AccountId == account)).BalanceMicros);
        }

        // key-1 sat in period 1,000 and was charged in 1,000 and 2,000: the newer period's charges only.
        Assert.Equal((2_000, ChargesIn("key-1", 2_000)), (stored["key-1"].PeriodStartMs, stored["key-1"].PeriodSpendMicros));

        // key-2 sat in period 2,000 (spent 50) and was charged in 1,000 and 2,000: 50 plus the 2,000 charges (and the late 7).
        Assert.Equal((2_000, 50 + ChargesIn("key-2", 2_000) + 7), (stored["key-2"].PeriodStartMs, stored["key-2"].PeriodSpendMicros));

        // key-3 sat in period 3,000 and was charged in 2,000: its period is left alone.
        Assert.Equal((3_000, 50L), (stored["key-3"].PeriodStartMs, stored["key-3"].PeriodSpendMicros));
        Assert.Equal(entries.Where(static e => e.KeyId == "key-1").Max(static e => e.CreatedAtMs), stored["key-1"].LastUsedAtMs);

        foreach (var ((kind, subject), amount) in leased)
        {
            Assert.Contains($"lease {(short)kind} {subject} {Node} {100_000 - amount}", actual);
            Assert.Contains(kind == LeaseSubjectKind.Key ? $"key {subject} leased {200_000 - amount}" : $"wallet {subject} leased {100_000 - amount}", actual);
        }

        long ChargesIn(string key, long period) => keys.Where(k => k.KeyId == key && k.PeriodStartMs == period).Sum(static k => k.SpendMicros);
    }

    [Fact]
    public async Task WriteAsync_KeyUpdateFailsAfterLeasesEntriesAndWalletsWereWritten_RollsBackTheWholeBatch()
    {
        // key-5's spend one charge short of overflowing: the key update, after the leases, entries and wallets were written in the same
        // transaction, fails with "bigint out of range".
        await using (var connection = new NpgsqlConnection(_batch.DatabasePath))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"UPDATE \"ApiKeys\" SET \"SpendMicros\" = {long.MaxValue - 10} WHERE \"Id\" = 'key-5'", connection);
            await command.ExecuteNonQueryAsync();
        }

        var before = await SnapshotAsync(_batch);
        var (entries, wallets, keys, leased) = Batch();
        await using var session = await LedgerSession.OpenAsync(Factory(_batch), default);

        var error = await Assert.ThrowsAsync<PostgresException>(() => session.WriteAsync(entries, wallets, keys, 1_700_000_009_000, yieldCore: false, default, leased, Node));

        Assert.Equal(PostgresErrorCodes.NumericValueOutOfRange, error.SqlState);
        Assert.Equal(before, await SnapshotAsync(_batch));

        // The writer disposes a failed session and retries the batch on a new one; without the overflow it is written whole.
        await using (var connection = new NpgsqlConnection(_batch.DatabasePath))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("UPDATE \"ApiKeys\" SET \"SpendMicros\" = 100 WHERE \"Id\" = 'key-5'", connection);
            await command.ExecuteNonQueryAsync();
        }

        await using var retry = await LedgerSession.OpenAsync(Factory(_batch), default);
        await retry.WriteAsync(entries, wallets, keys, 1_700_000_009_000, yieldCore: false, default, leased, Node);
        await using var db = _batch.Db();
        Assert.Equal(entries.Count, await db.LedgerEntries.CountAsync());
    }

    [Fact]
    public async Task WriteAsync_LeaseCoversLessThanBilled_BatchPathWritesOffAndStoresWhatTheCommandPathStores()
    {
        // key-4's lease on this node holds 500 (its row was reclaimed and granted again, say): less than the batch billed to it.
        foreach (var harness in new[] { _commands, _batch })
        {
            await using var connection = new NpgsqlConnection(harness.DatabasePath);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""
                UPDATE budget_leases SET amount_micros = 500 WHERE subject_kind = 0 AND subject_id = 'key-4' AND node_id = 'node-a';
                UPDATE "ApiKeys" SET "LeasedMicros" = "LeasedMicros" - 99500 WHERE "Id" = 'key-4';
                """, connection);
            await command.ExecuteNonQueryAsync();
        }

        int writeOffs = 0;
        foreach (var (harness, native) in new[] { (_commands, false), (_batch, true) })
        {
            var (entries, wallets, keys, leased) = Batch();
            await using var session = await LedgerSession.OpenAsync(Factory(harness), default, native);
            await session.WriteAsync(entries, wallets, keys, 1_700_000_009_000, yieldCore: false, default, leased, Node, covered =>
            {
                writeOffs++;
                Assert.Equal(500, covered[(LeaseSubjectKind.Key, "key-4")]);
                Assert.All(covered.Where(static c => c.Key != (LeaseSubjectKind.Key, "key-4")), c => Assert.Equal(leased[c.Key], c.Value));

                // As the ledger writer does: the shortfall comes off key-4's newest entries.
                long shortfall = leased[(LeaseSubjectKind.Key, "key-4")] - 500;
                for (int i = entries.Count - 1; i >= 0 && shortfall > 0; i--)
                {
                    if (entries[i].KeyId == "key-4")
                    {
                        long off = Math.Min(shortfall, entries[i].CostMicros);
                        entries[i].CostMicros -= off;
                        entries[i].AmountMicros += off;
                        entries[i].WrittenOffMicros += off;
                        shortfall -= off;
                    }
                }

                var totals = Totals(entries);
                return (totals.Wallets, totals.Keys);
            });
        }

        Assert.Equal(2, writeOffs);
        var actual = await SnapshotAsync(_batch);
        Assert.Equal(await SnapshotAsync(_commands), actual);
        Assert.Contains("lease 0 key-4 node-a 0", actual);
        await using var db = _batch.Db();
        var key4 = await db.LedgerEntries.AsNoTracking().Where(static e => e.KeyId == "key-4").ToListAsync();
        Assert.Equal(500, key4.Sum(static e => e.CostMicros));
        Assert.Equal(100 + 500, (await db.ApiKeys.AsNoTracking().SingleAsync(static k => k.Id == "key-4")).SpendMicros);
    }

    private static IDbContextFactory<QlaudDbContext> Factory(MeteringHarness harness) => harness.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();

    /// <summary>Three accounts with $1 each; five capped keys with 100 spent (key-1 in period 1,000, key-2 in 2,000, key-3 in
    /// 3,000, the others in 0); each key and wallet with a lease of this node holding 100,000, each key with one of another node too.</summary>
    private static async Task SeedAsync(MeteringHarness harness)
    {
        await using (var db = harness.Db())
        {
            foreach (string account in Accounts.Skip(1))
            {
                db.Accounts.Add(new AccountEntity { Id = account, Name = account, CreatedAtMs = 1 });
                db.Wallets.Add(new WalletEntity { AccountId = account });
            }

            await db.SaveChangesAsync();
            for (int i = 0; i < Keys.Length; i++)
            {
                db.ApiKeys.Add(new ApiKeyEntity
                {
                    Id = Keys[i],
                    AccountId = Accounts[i % Accounts.Length],
                    Scope = "standard",
                    KeyHash = "hash-" + Keys[i],
                    Prefix = "qlk_" + i,
                    LimitReset = "none",
                    MaxSpendMicros = 10_000_000,
                    CreatedAtMs = 1,
                    SpendMicros = 100,
                    PeriodSpendMicros = i < 3 ? 50 : 100,
                    PeriodStartMs = i < 3 ? 1_000 * (i + 1) : 0,
                });
            }

            await db.SaveChangesAsync();
        }

        await using var connection = new NpgsqlConnection(harness.DatabasePath);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            UPDATE "Wallets" SET "BalanceMicros" = 1000000, "LeasedMicros" = 100000;
            UPDATE "ApiKeys" SET "LeasedMicros" = 100000;
            INSERT INTO budget_leases (subject_kind, subject_id, node_id, amount_micros, expires_at_ms)
                SELECT 0, "Id", @node, 100000, 9000000000000 FROM "ApiKeys";
            INSERT INTO budget_leases (subject_kind, subject_id, node_id, amount_micros, expires_at_ms)
                SELECT 1, "AccountId", @node, 100000, 9000000000000 FROM "Wallets";
            INSERT INTO budget_leases (subject_kind, subject_id, node_id, amount_micros, expires_at_ms)
                SELECT 0, "Id", 'node-b', 100000, 9000000000000 FROM "ApiKeys";
            UPDATE "ApiKeys" SET "LeasedMicros" = 200000;
            """, connection);
        command.Parameters.AddWithValue("node", Node);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>A batch as the ledger writer builds one: 60 entries over three accounts and five keys (two keys charged in
    /// two cap periods), some without a key, their totals (<see cref="Totals"/>), and what was billed against this node's
    /// leases (every key but key-5, two of the wallets).</summary>
    private static (List<LedgerEntryEntity> Entries, IReadOnlyDictionary<string, long> Wallets, IReadOnlyList<KeySpend> Keys,
        Dictionary<(LeaseSubjectKind, string), long> Leased) Batch()
    {
        var entries = new List<LedgerEntryEntity>();
        var leased = new Dictionary<(LeaseSubjectKind, string), long>();
        for (int i = 0; i < 60; i++)
        {
            string? key = i % 7 == 6 ? null : Keys[i % Keys.Length];
            string account = key is null ? Accounts[i % Accounts.Length] : Accounts[Array.IndexOf(Keys, key) % Accounts.Length];
            long cost = 1_000 + (37 * i);
            var entry = Entry(account, key, cost, 1_700_000_000_000 + (i * 100), $"req-{i}");
            if (i % 11 == 0)
            {
                entry.Kind = LedgerEntryKind.Refund;
                entry.Note = null;
                entry.Estimated = false;
            }

            entries.Add(entry);
            if (key is not null && key != "key-5")
            {
                leased[(LeaseSubjectKind.Key, key)] = leased.GetValueOrDefault((LeaseSubjectKind.Key, key)) + cost;
            }

            if (account != "acct-c")
            {
                leased[(LeaseSubjectKind.Wallet, account)] = leased.GetValueOrDefault((LeaseSubjectKind.Wallet, account)) + cost;
            }
        }

        var (wallets, keys) = Totals(entries);
        return (entries, wallets, keys, leased);
    }

    /// <summary>The batch's wallet and key totals as the ledger writer sums them: key-1 and key-2 charged in period 1,000 by the
    /// first 30 entries and in 2,000 by the rest, key-3 in 2,000, the others in 0; per key and period, oldest period first.</summary>
    private static (IReadOnlyDictionary<string, long> Wallets, IReadOnlyList<KeySpend> Keys) Totals(List<LedgerEntryEntity> entries)
    {
        var wallets = new Dictionary<string, long>();
        var keys = new Dictionary<(string, long), (long Spend, long Used)>();
        for (int i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            wallets[entry.AccountId] = wallets.GetValueOrDefault(entry.AccountId) + entry.AmountMicros;
            if (entry.KeyId is { } key)
            {
                long period = key switch { "key-1" or "key-2" => i < 30 ? 1_000 : 2_000, "key-3" => 2_000, _ => 0 };
                var current = keys.GetValueOrDefault((key, period));
                keys[(key, period)] = (current.Spend + entry.CostMicros, Math.Max(current.Used, entry.CreatedAtMs));
            }
        }

        var spends = keys.Select(static k => new KeySpend(k.Key.Item1, k.Key.Item2, k.Value.Spend, k.Value.Used)).ToList();
        spends.Sort(static (a, b) => a.PeriodStartMs.CompareTo(b.PeriodStartMs));
        return (wallets, spends);
    }

    private static LedgerEntryEntity Entry(string account, string? keyId, long cost, long at, string requestId) => new()
    {
        AccountId = account,
        Kind = LedgerEntryKind.Usage,
        AmountMicros = -cost,
        KeyId = keyId,
        EndUserId = keyId is null ? null : "user-" + keyId,
        Model = "test-model",
        Route = "test/test-model",
        InputTokens = cost / 3,
        OutputTokens = cost / 7,
        CacheReadTokens = 3,
        CacheWriteTokens = 4,
        ReasoningTokens = 5,
        UpstreamCostMicros = cost - 100,
        CostMicros = cost,
        Estimated = true,
        CreatedAtMs = at,
        RequestId = requestId,
        Note = "note with ünïcode, 'quotes', {braces}",
    };

    /// <summary>Every row the writer touches, as text: the ledger in id order (without the ids: a rolled-back attempt leaves a
    /// gap in the identity sequence), the wallets, the keys' counters and leased totals,
    /// and the lease rows.</summary>
    private static async Task<List<string>> SnapshotAsync(MeteringHarness harness)
    {
        var rows = new List<string>();
        await using var connection = new NpgsqlConnection(harness.DatabasePath);
        await connection.OpenAsync();
        foreach (string sql in (string[])[
            """SELECT 'ledger ' || (to_jsonb(l) - 'Id')::text FROM "LedgerEntries" l ORDER BY "Id" """,
            """SELECT 'wallet ' || "AccountId" || ' ' || "BalanceMicros" || ' ' || "UpdatedAtMs" FROM "Wallets" ORDER BY "AccountId" """,
            """SELECT 'wallet ' || "AccountId" || ' leased ' || "LeasedMicros" FROM "Wallets" ORDER BY "AccountId" """,
            """SELECT 'key ' || "Id" || ' ' || "SpendMicros" || ' ' || "PeriodSpendMicros" || ' ' || "PeriodStartMs" || ' ' || coalesce("LastUsedAtMs"::text, '-') FROM "ApiKeys" ORDER BY "Id" """,
            """SELECT 'key ' || "Id" || ' leased ' || "LeasedMicros" FROM "ApiKeys" ORDER BY "Id" """,
            "SELECT 'lease ' || subject_kind || ' ' || subject_id || ' ' || node_id || ' ' || amount_micros FROM budget_leases ORDER BY subject_kind, subject_id, node_id",
        ])
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows.Add(reader.GetString(0));
            }
        }

        return rows;
    }
}
