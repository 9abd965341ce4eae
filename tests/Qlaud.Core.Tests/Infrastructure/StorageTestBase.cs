using Microsoft.Extensions.Logging;

namespace Qlaud.Core.Tests.Infrastructure;

/// <summary>A storage contract test class: its tests run on SQLite here, and again on PostgreSQL in a subclass that
/// overrides <see cref="Storage"/> (see <c>Storage/PostgresStorageContractTests.cs</c>).</summary>
public abstract class StorageTestBase
{
    /// <summary>The provider the tests run on: <see cref="MeteringHarness.Sqlite"/> or <see cref="MeteringHarness.Postgres"/>.</summary>
    protected virtual string Storage => MeteringHarness.Sqlite;

    private protected Task<MeteringHarness> StartHarnessAsync(IDictionary<string, string?>? settings = null, DateTimeOffset? now = null, string? databasePath = null,
        ILoggerProvider? logs = null) => MeteringHarness.StartAsync(settings, now, databasePath, logs, Storage);
}
