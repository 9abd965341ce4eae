using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Hosting;
using Qlaud.Storage;
using Qlaud.Storage.Postgres;
using Qlaud.Storage.Sqlite;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses where Qlaud stores keys, wallets and the ledger in code (<c>Qlaud:Storage:Provider</c> chooses it in configuration).</summary>
public static class QlaudStorageBuilderExtensions
{
    /// <summary>Stores everything in a SQLite database (the default). Migrations run at start-up; the file uses WAL mode.</summary>
    /// <param name="builder">The builder returned by <c>AddQlaud()</c>.</param>
    /// <param name="connectionString">A SQLite connection string, for example <c>Data Source=/var/lib/qlaud/qlaud.db</c>;
    /// null uses <c>Qlaud:Storage:ConnectionString</c> (default <c>Data Source=qlaud.db</c>).</param>
    /// <returns>The builder.</returns>
    public static IQlaudBuilder UseSqlite(this IQlaudBuilder builder, string? connectionString = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<IStorageProvider>(sp => connectionString is null
            ? new SqliteStorageProvider(sp.GetRequiredService<IOptions<QlaudOptions>>().Value.Storage.ConnectionString)
            : new SqliteStorageProvider(connectionString, "UseSqlite(connectionString)")));
        // The options name the provider too, so start-up validation judges the settings against the store in use.
        builder.Services.PostConfigure<QlaudOptions>(static o => o.Storage.Provider = StorageOptions.Sqlite);
        return builder;
    }

    /// <summary>Stores everything in PostgreSQL, which several gateway instances may share (see the README's "Scale out").
    /// Migrations run at start-up under an advisory lock, so instances starting together are safe.</summary>
    /// <param name="builder">The builder returned by <c>AddQlaud()</c>.</param>
    /// <param name="connectionString">An Npgsql connection string, for example
    /// <c>Host=db;Database=qlaud;Username=qlaud;Password=...</c>; null uses <c>Qlaud:Storage:ConnectionString</c>.</param>
    /// <returns>The builder.</returns>
    public static IQlaudBuilder UsePostgres(this IQlaudBuilder builder, string? connectionString = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<IStorageProvider>(sp => connectionString is null
            ? new PostgresStorageProvider(sp.GetRequiredService<IOptions<QlaudOptions>>().Value.Storage.ConnectionString)
            : new PostgresStorageProvider(connectionString, "UsePostgres(connectionString)")));
        builder.Services.PostConfigure<QlaudOptions>(static o => o.Storage.Provider = StorageOptions.Postgres);
        return builder;
    }
}
