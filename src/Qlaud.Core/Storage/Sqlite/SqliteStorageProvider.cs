using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Qlaud.Storage.Sqlite;

/// <summary>The embedded default: a SQLite file in WAL mode, migrations from this assembly.</summary>
internal sealed class SqliteStorageProvider : IStorageProvider
{
    private readonly string _connectionString;

    /// <param name="connectionString">The SQLite connection string.</param>
    /// <param name="source">Where it came from, for the error message (a configuration key or <c>UseSqlite(...)</c>).</param>
    public SqliteStorageProvider(string connectionString, string source = "Qlaud:Storage:ConnectionString")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        try
        {
            // Fail at start-up on a malformed connection string, not on the first request.
            _connectionString = new SqliteConnectionStringBuilder(connectionString).ToString();
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException($"{source} is not a valid SQLite connection string ({ex.Message}). Example: 'Data Source=qlaud.db'.", ex);
        }
    }

    public string Name => Configuration.StorageOptions.Sqlite;

    public bool IsShared => false;

    public Threads.IThreadTurnLock CreateThreadTurnLock() => new Threads.InProcessThreadTurnLock();

    public Metering.Leasing.IBudgetLeaseStore? CreateLeaseStore() => null;

    public Batches.IBatchClaims? CreateBatchClaims() => null;

    public Search.ISearchStore CreateSearchStore(IServiceProvider services) =>
        Microsoft.Extensions.DependencyInjection.ActivatorUtilities.CreateInstance<SqliteSearchStore>(services);

    public void Configure(DbContextOptionsBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.UseSqlite(_connectionString, static sqlite => sqlite.MigrationsAssembly(typeof(SqliteStorageProvider).Assembly.GetName().Name))
            .AddInterceptors(SqliteConnectionSetup.Instance);
        ProviderMigrationsAssembly.Use(builder);
    }

    public async Task InitializeAsync(QlaudDbContext db, Func<Task> initialize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(initialize);
        // WAL lets readers (usage queries, key lookups) run while the ledger writer commits; the setting is stored in the file.
        // The per-connection settings (synchronous=NORMAL) are applied by SqliteConnectionSetup.
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false);

        // One process per file: SQLite's own write lock serializes the migration's transactions.
        await initialize().ConfigureAwait(false);
    }
}
