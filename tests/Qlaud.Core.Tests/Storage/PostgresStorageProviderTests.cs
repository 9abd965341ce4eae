using Microsoft.EntityFrameworkCore;
using Qlaud.Core.Tests.Infrastructure;
using Qlaud.Storage;
using Qlaud.Tests.Postgres;

namespace Qlaud.Core.Tests.Storage;

public sealed class PostgresStorageProviderTests
{
    [Fact]
    public async Task StartUp_SeveralInstancesStartTogetherOnAnEmptyDatabase_MigrateOnceAndAllServe()
    {
        var server = await PostgresServer.GetAsync();
        string database = await server.CreateDatabaseAsync();
        var harnesses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => MeteringHarness.StartAsync(databasePath: database, storage: MeteringHarness.Postgres)));
        try
        {
            // Every instance serves: each mints a key the others' database sees.
            foreach (var h in harnesses)
            {
                await h.MintAsync(capMicros: 1_000);
            }

            await using var db = harnesses[0].Db();
            Assert.Equal(4, await db.ApiKeys.CountAsync());
            Assert.Equal(1, await db.Accounts.CountAsync(static a => a.Id == AccountEntity.DefaultId));
            Assert.Equal(db.Database.GetMigrations().Count(), (await db.Database.GetAppliedMigrationsAsync()).Count());
            var applied = (await db.Database.GetAppliedMigrationsAsync()).ToList();
            Assert.Contains(applied, static id => id.EndsWith("_InitialPostgres", StringComparison.Ordinal));
            Assert.DoesNotContain(applied, static id => id.EndsWith("_InitialCreate", StringComparison.Ordinal)); // SQLite's own
        }
        finally
        {
            foreach (var h in harnesses)
            {
                h.KeepDatabase = true;
                await h.DisposeAsync();
            }

            await server.DropDatabaseAsync(database);
        }
    }

    [Fact]
    public void Configure_MalformedConnectionString_FailsNamingTheKey()
    {
        var error = Assert.Throws<InvalidOperationException>(() => StorageProviders.FromOptions(new Qlaud.Configuration.StorageOptions { Provider = "postgres", ConnectionString = "Database=qlaud" }));
        Assert.Contains("Qlaud:Storage:ConnectionString", error.Message, StringComparison.Ordinal);
        Assert.Contains("PostgreSQL", error.Message, StringComparison.Ordinal);
    }
}
