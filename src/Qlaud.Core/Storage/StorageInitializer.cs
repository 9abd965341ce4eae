using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Qlaud.Storage;

/// <summary>Brings the database up to date at start-up: provider preparation (WAL), EF Core migrations, the default account.</summary>
/// <remarks>
/// Runs as a hosted service, so a database that cannot be opened or migrated stops the host from starting. Services also
/// await <see cref="EnsureInitializedAsync"/>, so storage works in a bare service provider without a host.
/// </remarks>
internal sealed partial class StorageInitializer(IDbContextFactory<QlaudDbContext> factory, IStorageProvider provider, TimeProvider time, ILogger<StorageInitializer> logger)
    : IHostedService
{
    private readonly Lock _gate = new();
    private Task? _initialization;

    public Task EnsureInitializedAsync(CancellationToken cancellationToken = default)
    {
        var initialization = Volatile.Read(ref _initialization);
        if (initialization is null)
        {
            lock (_gate)
            {
                initialization = _initialization ??= InitializeAsync();
            }
        }

        return initialization.IsCompletedSuccessfully ? Task.CompletedTask : initialization.WaitAsync(cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken) => EnsureInitializedAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task InitializeAsync()
    {
        var db = await factory.CreateDbContextAsync().ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            await provider.InitializeAsync(db, () => MigrateAndSeedAsync(db), CancellationToken.None).ConfigureAwait(false);
        }

        Log.Ready(logger, provider.Name);
        if (provider.IsShared)
        {
            Log.SharedStore(logger, provider.Name);
        }
    }

    private async Task MigrateAndSeedAsync(QlaudDbContext db)
    {
        await db.Database.MigrateAsync().ConfigureAwait(false);
        if (!await db.Accounts.AnyAsync(static a => a.Id == AccountEntity.DefaultId).ConfigureAwait(false))
        {
            long now = time.GetUtcNow().ToUnixTimeMilliseconds();
            db.Accounts.Add(new AccountEntity { Id = AccountEntity.DefaultId, Name = "Default account", CreatedAtMs = now });
            db.Wallets.Add(new WalletEntity { AccountId = AccountEntity.DefaultId, BalanceMicros = 0, UpdatedAtMs = now });
            try
            {
                await db.SaveChangesAsync().ConfigureAwait(false);
            }
            catch (DbUpdateException)
            {
                // Another instance sharing the database may have created it first; anything else is a real failure.
                db.ChangeTracker.Clear();
                if (!await db.Accounts.AsNoTracking().AnyAsync(static a => a.Id == AccountEntity.DefaultId).ConfigureAwait(false))
                {
                    throw;
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Qlaud storage ready ({Provider}, migrations applied)")]
        public static partial void Ready(ILogger logger, string provider);

        [LoggerMessage(2, LogLevel.Information, "Qlaud storage is {Provider}, which several instances may share: key caps and enforced wallets are funded from budget leases (see the README's \"Scale out\")")]
        public static partial void SharedStore(ILogger logger, string provider);
    }
}
