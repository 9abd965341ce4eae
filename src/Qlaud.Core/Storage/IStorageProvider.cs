using Microsoft.EntityFrameworkCore;

namespace Qlaud.Storage;

/// <summary>The database-specific part of storage: how to connect, how start-up runs, and the few statements that differ by database.</summary>
/// <remarks>
/// Services only use EF Core LINQ, <c>SaveChanges</c> and <c>ExecuteUpdate</c>, which every relational provider
/// translates; anything provider-specific (SQLite pragmas, PostgreSQL advisory locks) lives behind this interface. Each
/// provider has its own migrations (<c>Storage/Sqlite/Migrations</c>, <c>Storage/Postgres/Migrations</c>), told apart by
/// namespace (<see cref="ProviderMigrationsAssembly"/>).
/// </remarks>
internal interface IStorageProvider
{
    /// <summary>The provider's configuration name, <c>sqlite</c> or <c>postgres</c>.</summary>
    string Name { get; }

    /// <summary>Whether several gateway processes may share this database (so counters held in memory must be leased).</summary>
    bool IsShared { get; }

    /// <summary>The lock that serializes a thread's turns: in memory for one process, in the database when it is shared.</summary>
    Threads.IThreadTurnLock CreateThreadTurnLock();

    /// <summary>Where budget leases are kept when the database is shared (<see cref="IsShared"/>); null for a single process,
    /// whose caps and wallets are counted in its own memory.</summary>
    Metering.Leasing.IBudgetLeaseStore? CreateLeaseStore();

    /// <summary>Where batch workers on several instances claim their work when the database is shared (<see cref="IsShared"/>);
    /// null for a single process, whose one worker reads pending requests directly.</summary>
    Batches.IBatchClaims? CreateBatchClaims();

    /// <summary>The search store on this database: FTS5 on SQLite, <c>tsvector</c> on PostgreSQL.</summary>
    Search.ISearchStore CreateSearchStore(IServiceProvider services);

    /// <summary>Configures <paramref name="builder"/> for this database (provider, connection, migrations).</summary>
    void Configure(DbContextOptionsBuilder builder);

    /// <summary>Runs <paramref name="initialize"/> (migrations and seed rows) on <paramref name="db"/> after the database's
    /// own preparation (SQLite's WAL journal mode), holding whatever lock keeps several processes starting together from
    /// migrating at once (a PostgreSQL advisory lock).</summary>
    Task InitializeAsync(QlaudDbContext db, Func<Task> initialize, CancellationToken cancellationToken);
}
