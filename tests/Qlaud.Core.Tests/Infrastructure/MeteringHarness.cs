using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Qlaud.Catalog;
using Qlaud.Metering;
using Qlaud.Security;
using Qlaud.Storage;
using Qlaud.Tests.Postgres;

namespace Qlaud.Core.Tests.Infrastructure;

/// <summary>
/// Qlaud's real services (<c>AddQlaud()</c>) on a real SQLite file in the temp folder, or on a fresh database of the test
/// process's throwaway PostgreSQL server (<see cref="PostgresServer"/>), with a manual clock. One model,
/// <c>test-model</c> on provider <c>test</c>: $1 input, $2 output, $0.10 cache read, $1.25 cache write per MTok.
/// </summary>
/// <remarks>Dispose deletes the file (drops the database) unless <see cref="KeepDatabase"/>; <see cref="RestartAsync"/> opens a new provider on the same file.</remarks>
internal sealed class MeteringHarness : IAsyncDisposable
{
    public const string MasterKey = "qlk_live_CoreTestMasterKey000000000000000000000";

    private readonly Dictionary<string, string?> _settings;
    private readonly ILoggerProvider? _logs;
    private ServiceProvider _services;

    /// <summary>The storage providers every storage contract test runs on.</summary>
    public const string Sqlite = "sqlite", Postgres = "postgres";

    private MeteringHarness(string storage, string path, Dictionary<string, string?> settings, ManualTimeProvider time, ILoggerProvider? logs)
    {
        Storage = storage;
        DatabasePath = path;
        _settings = settings;
        Time = time;
        _logs = logs;
        _services = Build();
    }

    /// <summary>The database: a SQLite file's path, or a PostgreSQL connection string.</summary>
    public string DatabasePath { get; }

    /// <summary><see cref="Sqlite"/> or <see cref="Postgres"/>.</summary>
    public string Storage { get; }

    public ManualTimeProvider Time { get; }

    public bool KeepDatabase { get; set; }

    public IServiceProvider Services => _services;

    public ISpendGuard Guard => _services.GetRequiredService<ISpendGuard>();

    public KeyService Keys => _services.GetRequiredService<KeyService>();

    public KeyAuthenticator Authenticator => _services.GetRequiredService<KeyAuthenticator>();

    public WalletService Wallets => _services.GetRequiredService<WalletService>();

    public UsageService Usage => _services.GetRequiredService<UsageService>();

    public LedgerWriter Ledger => _services.GetRequiredService<LedgerWriter>();

    public CatalogRoute Route => _services.GetRequiredService<ModelCatalog>().Models.Single(static m => m.Id == "test-model").Routes[0];

    public static async Task<MeteringHarness> StartAsync(IDictionary<string, string?>? settings = null, DateTimeOffset? now = null, string? databasePath = null,
        ILoggerProvider? logs = null, string storage = Sqlite)
    {
        string path = databasePath ?? (storage == Postgres
            ? await (await PostgresServer.GetAsync()).CreateDatabaseAsync()
            : Path.Combine(Path.GetTempPath(), $"qlaud-core-test-{Guid.NewGuid():N}.db"));
        var config = new Dictionary<string, string?>
        {
            ["Qlaud:Bootstrap:MasterKey"] = MasterKey,
            ["Qlaud:Storage:Provider"] = storage,
            ["Qlaud:Search:Enabled"] = storage == Postgres ? "false" : "true",
            ["Qlaud:Storage:ConnectionString"] = storage == Postgres ? path : $"Data Source={path}",
            ["Qlaud:UseBuiltInCatalog"] = "false",
            ["Qlaud:Providers:test:Dialect"] = "openai",
            ["Qlaud:Providers:test:BaseUrl"] = "http://127.0.0.1:9/v1",
            ["Qlaud:Models:0:Id"] = "test-model",
            ["Qlaud:Models:0:MaxOutputTokens"] = "1000",
            ["Qlaud:Models:0:Routes:0:Provider"] = "test",
            ["Qlaud:Models:0:Routes:0:InputPerMTok"] = "1",
            ["Qlaud:Models:0:Routes:0:OutputPerMTok"] = "2",
            ["Qlaud:Models:0:Routes:0:CacheReadPerMTok"] = "0.10",
            ["Qlaud:Models:0:Routes:0:CacheWritePerMTok"] = "1.25",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        var harness = new MeteringHarness(storage, path, config, new ManualTimeProvider(now ?? new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero)), logs);
        await harness.Services.GetRequiredService<StorageInitializer>().EnsureInitializedAsync();
        return harness;
    }

    /// <summary>Stops the services cleanly (the ledger writer flushes) and starts new ones on the same database file.</summary>
    public async Task RestartAsync()
    {
        await _services.GetRequiredService<LedgerWriter>().StopAsync(CancellationToken.None);
        await _services.DisposeAsync();
        _services = Build();
        await _services.GetRequiredService<StorageInitializer>().EnsureInitializedAsync();
    }

    /// <summary>A fresh context on the database, for assertions.</summary>
    public QlaudDbContext Db() => _services.GetRequiredService<IDbContextFactory<QlaudDbContext>>().CreateDbContext();

    public async Task<(KeyView Key, string Secret, QlaudCaller Caller)> MintAsync(long? capMicros = null, string? endUser = "user-1", LimitReset reset = LimitReset.None, int? rpm = null, int? tpm = null)
    {
        var (key, secret) = await Keys.CreateAsync(AccountEntity.DefaultId, new NewKey("test", KeyScope.Standard, endUser, capMicros, reset, null, rpm, tpm), CancellationToken.None);
        var caller = (await Authenticator.AuthenticateAsync(secret, CancellationToken.None)).Caller!;
        return (key, secret, caller);
    }

    /// <summary>An estimate whose worst case is exactly <paramref name="micros"/>.</summary>
    public static SpendEstimate Estimate(long micros, long inputTokens = 100, long outputTokens = 100) => new(inputTokens, outputTokens, micros);

    /// <summary>Usage whose upstream cost is exactly <paramref name="upstreamMicros"/>.</summary>
    public static SettledUsage Used(long upstreamMicros, long input = 10, long output = 20, string model = "test-model", string? requestId = null)
        => new(model, "test/test-model", new TokenUsage(input, output), upstreamMicros, requestId);

    public async ValueTask DisposeAsync()
    {
        await _services.GetRequiredService<LedgerWriter>().StopAsync(CancellationToken.None);
        await _services.DisposeAsync();
        if (!KeepDatabase)
        {
            if (Storage == Postgres)
            {
                await (await PostgresServer.GetAsync()).DropDatabaseAsync(DatabasePath);
            }
            else
            {
                Delete(DatabasePath);
            }
        }
    }

    public static void Delete(string path)
    {
        SqliteConnection.ClearAllPools();
        foreach (string file in (ReadOnlySpan<string>)[path, path + "-wal", path + "-shm"])
        {
            try
            {
                File.Delete(file);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }

    private ServiceProvider Build()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(_settings).Build());
        services.AddLogging(b =>
        {
            b.SetMinimumLevel(LogLevel.Warning);
            if (_logs is not null)
            {
                b.AddProvider(_logs);
            }
        });
        services.AddSingleton<TimeProvider>(Time);
        services.AddQlaud();
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
    }
}
