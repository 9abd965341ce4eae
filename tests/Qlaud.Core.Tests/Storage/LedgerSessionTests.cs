using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Storage;

public sealed class LedgerSessionTests : IAsyncLifetime
{
    private MeteringHarness _h = null!;

    public async Task InitializeAsync() => _h = await MeteringHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private IDbContextFactory<QlaudDbContext> Factory => _h.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();

    [Fact]
    public async Task WriteAsync_NativeAndCommandStatements_StoreTheSameRowsAndMoveBalancesAlike()
    {
        var (key, _, _) = await _h.MintAsync();
        foreach (bool native in (bool[])[true, false])
        {
            await using var session = await LedgerSession.OpenAsync(Factory, default, native);
            Assert.Equal(native, session.IsNative);
            await session.WriteAsync([Entry(key.Record.Id, native ? "native" : "command")],
                new Dictionary<string, long> { [AccountEntity.DefaultId] = -1_234 },
                [new KeySpend(key.Record.Id, 0, 1_234, 1_700_000_000_000)], 1_700_000_000_500, yieldCore: native, default);
        }

        await using var db = _h.Db();
        var rows = await db.LedgerEntries.AsNoTracking().OrderBy(static e => e.Id).ToListAsync();
        Assert.Equal(["native", "command"], rows.Select(static e => e.RequestId));
        foreach (var row in rows)
        {
            var expected = Entry(key.Record.Id, row.RequestId!);
            expected.Id = row.Id;
            Assert.Equivalent(expected, row, strict: true);
        }

        Assert.Equal(-2_468, (await db.Wallets.SingleAsync()).BalanceMicros);
        var stored = await db.ApiKeys.SingleAsync();
        Assert.Equal(2_468, stored.SpendMicros);
        Assert.Equal(1_700_000_000_000, stored.LastUsedAtMs);
    }

    [Fact]
    public async Task WriteAsync_ConsecutiveRowsRepeatSomeValuesAndChangeOthers_StoresEveryRowAsGiven()
    {
        // The native statements skip binding a value equal to the one already bound: a row must still get a value that went
        // to null, back from null, or to a different value of the same text, also in the next batch on the same statement.
        var (key, _, _) = await _h.MintAsync();
        var first = Entry(key.Record.Id, "r1");
        var nulls = Entry(null, "r2");
        nulls.EndUserId = null;
        nulls.Note = null;
        nulls.Estimated = false;
        var back = Entry(key.Record.Id, "r3");
        back.Model = new string("test-model".ToCharArray()); // equal text, another string instance
        back.OutputTokens = 201;
        var refund = Entry(key.Record.Id, "r4");
        refund.Kind = LedgerEntryKind.Refund;
        refund.ExternalEventId = "evt_1";
        var nextBatch = Entry(null, "r5");
        nextBatch.ExternalEventId = null;
        nextBatch.Route = "other/route";

        await using (var session = await LedgerSession.OpenAsync(Factory, default))
        {
            await session.WriteAsync([first, nulls, back, refund], new Dictionary<string, long> { [AccountEntity.DefaultId] = -100 },
                [new KeySpend(key.Record.Id, 0, 100, 1_700_000_000_000)], 1_700_000_000_500, yieldCore: true, default);
            await session.WriteAsync([nextBatch], new Dictionary<string, long> { [AccountEntity.DefaultId] = -100 },
                [new KeySpend(key.Record.Id, 0, 100, 1_700_000_000_000)], 1_700_000_000_600, yieldCore: false, default);
        }

        await using var db = _h.Db();
        var rows = await db.LedgerEntries.AsNoTracking().OrderBy(static e => e.Id).ToListAsync();
        LedgerEntryEntity[] expected = [first, nulls, back, refund, nextBatch];
        Assert.Equal(expected.Length, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            expected[i].Id = rows[i].Id;
            Assert.Equivalent(expected[i], rows[i], strict: true);
        }

        Assert.Equal(-200, (await db.Wallets.SingleAsync()).BalanceMicros);
        Assert.Equal(200, (await db.ApiKeys.SingleAsync()).SpendMicros);
    }

    [Fact]
    public async Task WriteAsync_NativeStatementFails_ThrowsSqliteErrorAndCommitsNothingOfTheBatch()
    {
        await using var session = await LedgerSession.OpenAsync(Factory, default);
        var good = Entry(null, "good");
        var orphan = Entry(null, "orphan");
        orphan.AccountId = "no-such-account"; // the ledger's foreign key to the accounts table

        var error = await Assert.ThrowsAsync<SqliteException>(() => session.WriteAsync([good, orphan],
            new Dictionary<string, long> { [AccountEntity.DefaultId] = -50 }, [], 1, yieldCore: false, default));

        Assert.Equal(19, error.SqliteErrorCode); // SQLITE_CONSTRAINT
        Assert.Contains("FOREIGN KEY", error.Message, StringComparison.Ordinal);
        await using var db = _h.Db();
        Assert.Empty(await db.LedgerEntries.ToListAsync());
        Assert.Equal(0, (await db.Wallets.SingleAsync()).BalanceMicros);
    }

    private static LedgerEntryEntity Entry(string? keyId, string requestId) => new()
    {
        AccountId = AccountEntity.DefaultId,
        Kind = LedgerEntryKind.Usage,
        AmountMicros = -1_234,
        KeyId = keyId,
        EndUserId = "user-1",
        Model = "test-model",
        Route = "test/test-model",
        InputTokens = 1_000,
        OutputTokens = 200,
        CacheReadTokens = 30,
        CacheWriteTokens = 4,
        ReasoningTokens = 5,
        UpstreamCostMicros = 1_000,
        CostMicros = 1_234,
        WrittenOffMicros = 0,
        Estimated = true,
        CreatedAtMs = 1_700_000_000_000,
        RequestId = requestId,
        Note = "note with ünïcode",
        ExternalReference = null,
        ExternalPaymentId = null,
        ExternalEventId = null,
    };
}
