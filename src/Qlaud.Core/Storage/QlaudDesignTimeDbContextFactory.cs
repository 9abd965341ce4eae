using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Qlaud.Storage.Postgres;
using Qlaud.Storage.Sqlite;

namespace Qlaud.Storage;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without a host, for SQLite (the default) or PostgreSQL.</summary>
/// <remarks>
/// The provider comes from the arguments after <c>--</c> (<c>-- --provider postgres</c>) or the <c>QLAUD_EF_PROVIDER</c>
/// environment variable; the README's "Storage migrations" lists the command for each. No database is opened.
/// </remarks>
internal sealed class QlaudDesignTimeDbContextFactory : IDesignTimeDbContextFactory<QlaudDbContext>
{
    public QlaudDbContext CreateDbContext(string[] args)
    {
        string provider = Environment.GetEnvironmentVariable("QLAUD_EF_PROVIDER") ?? Configuration.StorageOptions.Sqlite;
        for (int i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == "--provider")
            {
                provider = args[i + 1];
            }
        }

        var builder = new DbContextOptionsBuilder<QlaudDbContext>();
        IStorageProvider storage = string.Equals(provider, Configuration.StorageOptions.Postgres, StringComparison.OrdinalIgnoreCase)
            ? new PostgresStorageProvider("Host=localhost;Database=qlaud_design")
            : new SqliteStorageProvider("Data Source=qlaud-design.db");
        storage.Configure(builder);
        return new QlaudDbContext(builder.Options);
    }
}
