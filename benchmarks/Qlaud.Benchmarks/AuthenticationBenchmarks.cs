using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Qlaud.Metering;
using Qlaud.Security;
using Qlaud.Storage;

namespace Qlaud.Benchmarks;

/// <summary>
/// What authenticating and authorizing a request costs in the ASP.NET Core pipeline: routing, the Qlaud key check and the
/// smallest keyed handler (<c>GET /v1/models</c>, a pre-rendered document), without sockets.
/// </summary>
/// <remarks>
/// The real <c>AddQlaud()</c>/<c>MapQlaud()</c> app; the request delegate is built the way <c>WebApplication</c> builds it
/// (routing, then authentication and authorization when their services are registered, then the endpoint). Each operation is
/// one request on a fresh <see cref="DefaultHttpContext"/> with a request-services scope, as Kestrel's hosting layer gives.
/// Baseline: <c>GET /v1/catalog</c>, the same routing and a pre-rendered document with no key.
/// </remarks>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
public class AuthenticationBenchmarks
{
    private const string MasterKey = "qlk_live_BenchmarkMasterKey0000000000000000000000";

    private string _path = null!;
    private WebApplication _app = null!;
    private RequestDelegate _pipeline = null!;
    private IServiceScopeFactory _scopes = null!;
    private string _endUserKey = null!;

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), $"qlaud-bench-{Guid.NewGuid():N}.db");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
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
        });
        builder.Services.AddQlaud();
        _app = builder.Build();
        var isService = _app.Services.GetRequiredService<IServiceProviderIsService>();
        _app.UseRouting();
        if (isService.IsService(typeof(IAuthenticationSchemeProvider)))
        {
            _app.UseAuthentication();
            _app.UseAuthorization();
        }

        _app.MapQlaud();
        _app.UseEndpoints(static _ => { });
        _pipeline = ((IApplicationBuilder)_app).Build();
        _scopes = _app.Services.GetRequiredService<IServiceScopeFactory>();
        _app.Services.GetRequiredService<StorageInitializer>().EnsureInitializedAsync().GetAwaiter().GetResult();
        (_, _endUserKey) = _app.Services.GetRequiredService<KeyService>().CreateAsync(AccountEntity.DefaultId,
            new NewKey("bench", KeyScope.Standard, "user-1", null, LimitReset.None, null, null, null), CancellationToken.None).GetAwaiter().GetResult();
        // The key is in this node's memory from now on, as a key is after its first request.
        Run("/v1/models", _endUserKey).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
        SqliteConnection.ClearAllPools();
        foreach (string file in (ReadOnlySpan<string>)[_path, _path + "-wal", _path + "-shm"])
        {
            File.Delete(file);
        }
    }

    [Benchmark(Baseline = true)]
    public Task Catalog_NoKey() => Run("/v1/catalog", null);

    [Benchmark]
    public Task Models_MasterKey() => Run("/v1/models", MasterKey);

    [Benchmark]
    public Task Models_EndUserKey() => Run("/v1/models", _endUserKey);

    private async Task Run(string path, string? key)
    {
        var context = new DefaultHttpContext();
        var services = new RequestServicesFeature(context, _scopes);
        context.Features.Set<IServiceProvidersFeature>(services);
        context.Request.Method = "GET";
        context.Request.Path = path;
        if (key is not null)
        {
            context.Request.Headers.Authorization = "Bearer " + key;
        }

        context.Response.Body = Stream.Null;
        await _pipeline(context);
        await services.DisposeAsync();
        if (context.Response.StatusCode != StatusCodes.Status200OK)
        {
            throw new InvalidOperationException($"{path} answered {context.Response.StatusCode}.");
        }
    }
}
