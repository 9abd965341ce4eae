using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Storage;

public sealed class StorageInitializerTests
{
    [Fact]
    public async Task EnsureInitializedAsync_NewFile_AppliesMigrationsInWalModeWithTheDefaultAccount()
    {
        await using var h = await MeteringHarness.StartAsync();

        await using var db = h.Db();
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        Assert.Contains("InitialCreate", string.Join(",", await db.Database.GetAppliedMigrationsAsync()), StringComparison.Ordinal);
        Assert.Equal(AccountEntity.DefaultId, (await db.Accounts.SingleAsync()).Id);
        Assert.Equal(0, (await db.Wallets.SingleAsync()).BalanceMicros);
        await using var connection = new SqliteConnection($"Data Source={h.DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task EnsureInitializedAsync_TwoInstancesOnOneFile_ShareOneDefaultAccount()
    {
        await using var first = await MeteringHarness.StartAsync();
        await using var second = await MeteringHarness.StartAsync(databasePath: first.DatabasePath);
        second.KeepDatabase = true;

        await using var db = second.Db();
        Assert.Equal(1, await db.Accounts.CountAsync());
    }

    [Fact]
    public async Task StartAsync_MalformedConnectionString_FailsNamingTheKey()
    {
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            MeteringHarness.StartAsync(new Dictionary<string, string?> { ["Qlaud:Storage:ConnectionString"] = "Flavour=vanilla" }));

        Assert.Contains("Qlaud:Storage:ConnectionString", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_HasNoPendingChangesAgainstTheMigrations()
    {
        using var db = new QlaudDesignTimeDbContextFactory().CreateDbContext([]);

        Assert.False(db.Database.HasPendingModelChanges(), "the model changed: add a migration with dotnet ef migrations add");
    }
}
