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
            await session.WriteAsync([Entry(key.Record.Id, native ? "native" : "command")],
                new Dictionary<string, long> { [AccountEntity.DefaultId] = -1_234 },
                [new KeySpend(key.Record.Id, 0, 1_234, 1_700_000_000_000)], 1_700_000_000_500, default);
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
    public async Task WriteAsync_NativeStatementFails_ThrowsSqliteErrorAndCommitsNothingOfTheBatch()
    {
        await using var session = await LedgerSession.OpenAsync(Factory, default);
        var good = Entry(null, "good");
        var orphan = Entry(null, "orphan");
        orphan.AccountId = "no-such-account"; // the ledger's foreign key to the accounts table

        var error = await Assert.ThrowsAsync<SqliteException>(() => session.WriteAsync([good, orphan],
            new Dictionary<string, long> { [AccountEntity.DefaultId] = -50 }, [], 1, default));

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
