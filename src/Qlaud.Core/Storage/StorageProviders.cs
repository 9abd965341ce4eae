using Qlaud.Configuration;
using Qlaud.Storage.Postgres;
using Qlaud.Storage.Sqlite;

namespace Qlaud.Storage;

/// <summary>Picks the <see cref="IStorageProvider"/> that <c>Qlaud:Storage</c> names.</summary>
internal static class StorageProviders
{
    public static IStorageProvider FromOptions(StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.Equals(options.Provider, StorageOptions.Postgres, StringComparison.OrdinalIgnoreCase)
            ? new PostgresStorageProvider(options.ConnectionString)
            : new SqliteStorageProvider(options.ConnectionString);
    }
}
