using System.Reflection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Qlaud.Configuration;
using Qlaud.Storage;

namespace Qlaud.Core.Tests.Storage;

/// <summary>The migrations each provider runs, found from the assembly's metadata, are exactly those a scan of every type finds
/// in the provider's namespace, and the model snapshot is the provider's own.</summary>
public sealed class ProviderMigrationsAssemblyTests
{
    public static TheoryData<string, string, string> Providers => new()
    {
        { StorageOptions.Sqlite, "Data Source=unused.db", ProviderMigrationsAssembly.SqliteNamespace },
        { StorageOptions.Postgres, "Host=127.0.0.1;Port=1;Database=unused;Username=unused", ProviderMigrationsAssembly.PostgresNamespace },
    };

    [Theory]
    [MemberData(nameof(Providers))]
    public void Migrations_AreEveryMigrationOfTheProvidersNamespace_AndTheSnapshotIsItsOwn(string provider, string connectionString, string ns)
    {
        var builder = new DbContextOptionsBuilder<QlaudDbContext>();
        StorageProviders.FromOptions(new StorageOptions { Provider = provider, ConnectionString = connectionString }).Configure(builder);
        using var db = new QlaudDbContext(builder.Options); // no connection is opened: migrations are read from the assembly
        var migrations = db.GetService<IMigrationsAssembly>();

        var scanned = typeof(QlaudDbContext).Assembly.GetTypes()
            .Where(t => t.Namespace == ns && t.IsSubclassOf(typeof(Migration)))
            .Select(static t => t.GetCustomAttribute<MigrationAttribute>()!.Id)
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.True(scanned.Count >= 3, $"only {scanned.Count} migrations under {ns}");
        Assert.Equal(scanned, migrations.Migrations.Keys.ToList());
        Assert.All(migrations.Migrations.Values, t => Assert.Equal(ns, t.Namespace));
        Assert.Equal(scanned, db.Database.GetMigrations().ToList());

        Assert.NotNull(migrations.ModelSnapshot);
        Assert.Equal(ns, migrations.ModelSnapshot!.GetType().Namespace);
    }
}
