using Microsoft.EntityFrameworkCore;

namespace Qlaud.Storage;

/// <summary>The database-specific part of storage: how to connect, and what to run before migrations.</summary>
/// <remarks>
/// Services only use EF Core LINQ, <c>SaveChanges</c> and <c>ExecuteUpdate</c>, which every relational provider
/// translates; a new database (PostgreSQL) is a new provider with its own migrations assembly, not a change to services.
/// </remarks>
internal interface IStorageProvider
{
    /// <summary>A short name for logs, for example <c>sqlite</c>.</summary>
    string Name { get; }

    /// <summary>Configures <paramref name="builder"/> for this database (provider, connection, migrations assembly).</summary>
    void Configure(DbContextOptionsBuilder builder);

    /// <summary>Prepares the database before migrations run (for example SQLite's WAL journal mode).</summary>
    Task PrepareAsync(QlaudDbContext db, CancellationToken cancellationToken);
}
