using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Qlaud.Storage.Postgres;

/// <summary>The scale-out store: PostgreSQL through Npgsql, shared by several gateway instances; migrations from
/// <c>Storage/Postgres/Migrations</c>, applied at start-up under an advisory lock.</summary>
internal sealed class PostgresStorageProvider : IStorageProvider
{
    /// <summary>Takes the advisory lock held while one instance migrates (other instances starting together wait on it).
    /// The key is a fixed number Qlaud reserves for this, 0x514C4155445F4D49 ("QLAUD_MI").</summary>
    private const string LockMigration = "SELECT pg_advisory_lock(5858213446398201161)";

    private const string UnlockMigration = "SELECT pg_advisory_unlock(5858213446398201161)";

    private readonly string _connectionString;

    /// <param name="connectionString">An Npgsql connection string.</param>
    /// <param name="source">Where it came from, for the error message.</param>
    public PostgresStorageProvider(string connectionString, string source = "Qlaud:Storage:ConnectionString")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            if (string.IsNullOrEmpty(builder.Host))
            {
                throw new ArgumentException("it names no Host");
            }

            _connectionString = builder.ConnectionString;
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException(
                $"{source} is not a valid PostgreSQL connection string ({ex.Message}). Example: 'Host=127.0.0.1;Port=5432;Database=qlaud;Username=qlaud;Password=...'.", ex);
        }
    }

    public string Name => Configuration.StorageOptions.Postgres;

    public bool IsShared => true;

    public Threads.IThreadTurnLock CreateThreadTurnLock() => new Threads.PostgresThreadTurnLock(_connectionString);

    public Metering.Leasing.IBudgetLeaseStore? CreateLeaseStore() => new PostgresBudgetLeaseStore(_connectionString);

    public Batches.IBatchClaims? CreateBatchClaims() => new PostgresBatchClaims(_connectionString);

    public Search.ISearchStore CreateSearchStore(IServiceProvider services) =>
        Microsoft.Extensions.DependencyInjection.ActivatorUtilities.CreateInstance<PostgresSearchStore>(services);

    public void Configure(DbContextOptionsBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.UseNpgsql(_connectionString, static npgsql => npgsql.MigrationsAssembly(typeof(PostgresStorageProvider).Assembly.GetName().Name));
        ProviderMigrationsAssembly.Use(builder);
    }

    public async Task InitializeAsync(QlaudDbContext db, Func<Task> initialize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(initialize);

        // Instances starting together take turns: the first migrates and seeds, the others then find nothing left to do.
        // The lock is the session's, so it is released with the connection also when this process dies mid-migration.
        await db.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await db.Database.ExecuteSqlRawAsync(LockMigration, cancellationToken).ConfigureAwait(false);
            try
            {
                await initialize().ConfigureAwait(false);
            }
            finally
            {
                await db.Database.ExecuteSqlRawAsync(UnlockMigration, CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync().ConfigureAwait(false);
        }
    }
}
