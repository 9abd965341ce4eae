using Microsoft.EntityFrameworkCore;
using Qlaud.Core.Tests.Infrastructure;

namespace Qlaud.Core.Tests.Storage.Sqlite;

public sealed class SqliteConnectionSetupTests
{
    [Fact]
    public async Task ConnectionOpened_ByEf_UsesSynchronousNormal()
    {
        await using var h = await MeteringHarness.StartAsync();
        await using var db = h.Db();
        await db.Database.OpenConnectionAsync();
        await using var command = db.Database.GetDbConnection().CreateCommand();
        command.CommandText = "PRAGMA synchronous;";

        Assert.Equal(1L, await command.ExecuteScalarAsync()); // NORMAL; SQLite's default is FULL (2)
    }
}
