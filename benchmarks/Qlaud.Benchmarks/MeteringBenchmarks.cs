using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Qlaud.Catalog;
using Qlaud.Metering;
using Qlaud.Security;
using Qlaud.Storage;

namespace Qlaud.Benchmarks;

/// <summary>
/// What metering costs one request: <see cref="ISpendGuard"/> reserve and settle, plus that request's share of the ledger
/// writer's batched transaction on a real SQLite file (WAL), over the real <c>AddQlaud()</c> services.
/// </summary>
/// <remarks>
/// <para>One operation is one request's metering; each invocation meters <see cref="Requests"/> requests back to back and
/// then waits for the ledger to commit them (<see cref="LedgerWriter.FlushAsync"/>), so the ledger's work is inside the
/// measurement, amortized over the batch as it is under load.</para>
/// <para>Baseline: reserve and release (what a failed upstream call costs): the in-memory guard with no ledger entry.
/// <c>ReserveSettle_MasterKey</c> is the gateway serving its own account (the load benchmark's traffic);
/// <c>ReserveSettle_EndUserKey</c> adds a minted key's cap and spend counters. <c>MeteredCall_MasterKey</c> is the request
/// path's own sequence through <see cref="MeteredCall"/> (estimate over the candidate routes, reserve, the attempt's reports,
/// close by the settle table), as the HTTP forwarder and the in-process client run it.</para>
/// </remarks>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
public class MeteringBenchmarks
{
    private const int Requests = 256;
    private const string MasterKey = "qlk_live_BenchmarkMasterKey0000000000000000000000";

    private string _path = null!;
    private ServiceProvider _services = null!;
    private ISpendGuard _guard = null!;
    private LedgerWriter _ledger = null!;
    private QlaudCaller _master = null!;
    private QlaudCaller _endUser = null!;
    private ModelCatalog _catalog = null!;
    private IReadOnlyList<CatalogRoute> _routes = null!;

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), $"qlaud-bench-{Guid.NewGuid():N}.db");
        var settings = new Dictionary<string, string?>
        {
            ["Qlaud:Bootstrap:MasterKey"] = MasterKey,
            ["Qlaud:Storage:ConnectionString"] = $"Data Source={_path}",
            ["Qlaud:UseBuiltInCatalog"] = "false",
            ["Qlaud:Providers:bench:Dialect"] = "openai",
            ["Qlaud:Providers:bench:BaseUrl"] = "http://127.0.0.1:9/v1",
            ["Qlaud:Models:0:Id"] = "bench-model",
            ["Qlaud:Models:0:Routes:0:Provider"] = "bench",
            ["Qlaud:Models:0:Routes:0:InputPerMTok"] = "1",
            ["Qlaud:Models:0:Routes:0:OutputPerMTok"] = "2",
        };
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddLogging(static b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddQlaud();
        _services = services.BuildServiceProvider();
        _services.GetRequiredService<StorageInitializer>().EnsureInitializedAsync().GetAwaiter().GetResult();
        _guard = _services.GetRequiredService<ISpendGuard>();
        _ledger = _services.GetRequiredService<LedgerWriter>();
        var authenticator = _services.GetRequiredService<KeyAuthenticator>();
        _master = authenticator.AuthenticateAsync(MasterKey, CancellationToken.None).AsTask().GetAwaiter().GetResult().Caller!;
        var (_, secret) = _services.GetRequiredService<KeyService>().CreateAsync(AccountEntity.DefaultId,
            new NewKey("bench", KeyScope.Standard, "user-1", 1_000_000_000_000, LimitReset.None, null, null, null), CancellationToken.None).GetAwaiter().GetResult();
        _endUser = authenticator.AuthenticateAsync(secret, CancellationToken.None).AsTask().GetAwaiter().GetResult().Caller!;
        _catalog = _services.GetRequiredService<ModelCatalog>();
        _routes = _catalog.Models.Single(static m => m.Id == "bench-model").Routes;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ledger.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        _services.DisposeAsync().AsTask().GetAwaiter().GetResult();
        SqliteConnection.ClearAllPools();
        foreach (string file in (ReadOnlySpan<string>)[_path, _path + "-wal", _path + "-shm"])
        {
            File.Delete(file);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Requests)]
    public async Task ReserveRelease()
    {
        for (int i = 0; i < Requests; i++)
        {
            var reservation = (await _guard.ReserveAsync(_master, new SpendEstimate(500, 1000, 2_500), CancellationToken.None)).Reservation!;
            _guard.Release(reservation);
        }
    }

    [Benchmark(OperationsPerInvoke = Requests)]
    public Task ReserveSettle_MasterKey() => MeterAsync(_master);

    [Benchmark(OperationsPerInvoke = Requests)]
    public Task ReserveSettle_EndUserKey() => MeterAsync(_endUser);

    [Benchmark(OperationsPerInvoke = Requests)]
    public async Task MeteredCall_MasterKey()
    {
        var usage = new TokenUsage(427, 30);
        for (int i = 0; i < Requests; i++)
        {
            var (call, _) = await MeteredCall.ReserveAsync(_guard, _master, _routes, _catalog, 500, 1000, "req-bench", null, CancellationToken.None);
            call!.Sent(_routes[0]);
            call.ReportUsage(usage);
            call.Delivered();
            call.Close(CallEnd.Completed);
        }

        await _ledger.FlushAsync();
    }

    private async Task MeterAsync(QlaudCaller caller)
    {
        for (int i = 0; i < Requests; i++)
        {
            var reservation = (await _guard.ReserveAsync(caller, new SpendEstimate(500, 1000, 2_500), CancellationToken.None)).Reservation!;
            _guard.Settle(reservation, new SettledUsage("bench-model", "bench/bench-model", new TokenUsage(427, 30), 487, "chatcmpl-bench"));
        }

        await _ledger.FlushAsync();
    }
}
