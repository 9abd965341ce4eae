using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Qlaud.Storage.Sqlite;

namespace Qlaud.Storage;

/// <summary>Lets <c>dotnet ef migrations add</c> build the SQLite model without a host.</summary>
internal sealed class QlaudDesignTimeDbContextFactory : IDesignTimeDbContextFactory<QlaudDbContext>
{
    public QlaudDbContext CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<QlaudDbContext>();
        new SqliteStorageProvider("Data Source=qlaud-design.db").Configure(builder);
        return new QlaudDbContext(builder.Options);
    }
}
