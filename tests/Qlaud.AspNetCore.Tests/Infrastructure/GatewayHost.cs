using System.ClientModel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Chat;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Infrastructure;

/// <summary>
/// A real Qlaud gateway (<c>AddQlaud()</c> + <c>MapQlaud()</c>) on Kestrel at 127.0.0.1, with providers pointing at a
/// fake upstream served over real HTTP.
/// </summary>
/// <remarks>
/// Configured models: <c>fake-gpt</c> (OpenAI-dialect provider <c>fake</c>, upstream id <c>upstream-gpt</c>, $1/$2 per MTok),
/// <c>fake-claude</c> (Anthropic-dialect provider <c>fakeanthropic</c>, upstream id <c>upstream-claude</c>, $3/$15, cache $0.30/$3.75).
/// Routing defaults for tests: no retries on the same route (<c>Qlaud:Routing:MaxRetries</c> 0, so one scripted reply per
/// route attempt) and a 10 ms back-off base; tests of retries set their own values through <c>settings</c>.
/// </remarks>
public sealed class GatewayHost : IAsyncDisposable
{
    public const string MasterKey = "qlk_live_TestMasterKey0000000000000000000000000";

    private readonly WebApplication _app;
    private readonly IAsyncDisposable[] _owned;
    private readonly string? _ownedDatabase;

    private GatewayHost(WebApplication app, FakeProviderServer fake, Uri baseUri, IAsyncDisposable[] owned, string? ownedDatabase)
    {
        _app = app;
        _owned = owned;
        Fake = fake;
        BaseUri = baseUri;
        _ownedDatabase = ownedDatabase;
    }

    public FakeProviderServer Fake { get; }

    /// <summary>The gateway root, for example <c>http://127.0.0.1:5123</c> (the Anthropic base URL).</summary>
    public Uri BaseUri { get; }

    /// <summary>The OpenAI base URL, <c>{BaseUri}/v1</c>.</summary>
    public Uri OpenAIBaseUri => new(BaseUri, "/v1");

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts the gateway.</summary>
    /// <param name="fake">The upstream of the providers <c>fake</c> and <c>fakeanthropic</c>; a new one when null.</param>
    /// <param name="settings">Configuration added over the defaults (more providers, models, routing settings). Without
    /// <c>Qlaud:Storage:ConnectionString</c> the gateway gets its own SQLite file in the temp folder, deleted on dispose; a test
    /// that restarts on the same database passes one (<see cref="TempDatabase"/>).</param>
    /// <param name="configureFake2">Adds the provider name <c>fake2</c> on the same fake upstream.</param>
    /// <param name="services">Registrations before <c>AddQlaud()</c>, for example a fake <see cref="TimeProvider"/>.</param>
    /// <param name="owned">More fakes to dispose with the gateway.</param>
    /// <param name="middleware">Middleware added before <c>MapQlaud()</c>, for example to see when a request's handling ended.</param>
    /// <param name="disposeFake">Whether disposing the gateway disposes <paramref name="fake"/> (false to restart on the same fake).</param>
    /// <param name="map">Maps the endpoints instead of a plain <c>app.MapQlaud()</c>, for example to add the app's own authorization.</param>
    public static async Task<GatewayHost> StartAsync(FakeProviderServer? fake = null, IDictionary<string, string?>? settings = null, bool configureFake2 = false,
        Action<IServiceCollection>? services = null, IAsyncDisposable[]? owned = null, Func<HttpContext, RequestDelegate, Task>? middleware = null, bool disposeFake = true,
        Action<WebApplication>? map = null)
    {
        fake ??= await FakeProviderServer.StartAsync();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Logging.AddFilter(static _ => false);
        var config = new Dictionary<string, string?>
        {
            ["Qlaud:Bootstrap:MasterKey"] = MasterKey,
            ["Qlaud:Routing:MaxRetries"] = "0",
            ["Qlaud:Routing:RetryBaseDelaySeconds"] = "0.01",
            // Thread turns go straight to the model unless a test opts into the connector tool loop (the product default is dynamic).
            ["Qlaud:Connectors:DefaultToolsMode"] = "none",
            // The builtins' conventional key variables of the machine running the tests never reach a test gateway.
            ["BRAVE_API_KEY"] = "", ["TAVILY_API_KEY"] = "", ["E2B_API_KEY"] = "", ["RESEND_API_KEY"] = "", ["SLACK_BOT_TOKEN"] = "",
            ["LINEAR_API_KEY"] = "", ["ZENDESK_API_TOKEN"] = "", ["ZENDESK_EMAIL"] = "", ["ZENDESK_SUBDOMAIN"] = "", ["GITHUB_TOKEN"] = "",
            ["GH_TOKEN"] = "", ["NOTION_TOKEN"] = "", ["NOTION_API_KEY"] = "",
            ["Qlaud:Providers:fake:Dialect"] = "openai",
            ["Qlaud:Providers:fake:BaseUrl"] = fake.OpenAIBaseUri.ToString(),
            ["Qlaud:Providers:fake:ApiKey"] = "sk-fake-openai",
            ["Qlaud:Providers:fakeanthropic:Dialect"] = "anthropic",
            ["Qlaud:Providers:fakeanthropic:BaseUrl"] = fake.BaseUri.ToString(),
            ["Qlaud:Providers:fakeanthropic:ApiKey"] = "sk-ant-fake",
            ["Qlaud:Models:0:Id"] = "fake-gpt",
            ["Qlaud:Models:0:Capabilities:0"] = "tools",
            ["Qlaud:Models:0:Routes:0:Provider"] = "fake",
            ["Qlaud:Models:0:Routes:0:UpstreamModel"] = "upstream-gpt",
            ["Qlaud:Models:0:Routes:0:InputPerMTok"] = "1",
            ["Qlaud:Models:0:Routes:0:OutputPerMTok"] = "2",
            ["Qlaud:Models:1:Id"] = "fake-claude",
            ["Qlaud:Models:1:Routes:0:Provider"] = "fakeanthropic",
            ["Qlaud:Models:1:Routes:0:UpstreamModel"] = "upstream-claude",
            ["Qlaud:Models:1:Routes:0:InputPerMTok"] = "3",
            ["Qlaud:Models:1:Routes:0:OutputPerMTok"] = "15",
            ["Qlaud:Models:1:Routes:0:CacheReadPerMTok"] = "0.30",
            ["Qlaud:Models:1:Routes:0:CacheWritePerMTok"] = "3.75",
        };
        if (configureFake2)
        {
            // A second provider name on the same fake upstream, for fallback between routes.
            config["Qlaud:Providers:fake2:BaseUrl"] = fake.OpenAIBaseUri.ToString();
        }

        string? ownedDatabase = null;
        if (settings is null || !settings.ContainsKey("Qlaud:Storage:ConnectionString"))
        {
            ownedDatabase = TempDatabase.NewPath();
            config["Qlaud:Storage:ConnectionString"] = $"Data Source={ownedDatabase}";
            config["Qlaud:Storage:FilesPath"] = TempDatabase.FilesPath(ownedDatabase);
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(config);
        services?.Invoke(builder.Services);
        builder.Services.AddQlaud();
        var app = builder.Build();
        if (middleware is not null)
        {
            app.Use(middleware);
        }

        if (map is null)
        {
            app.MapQlaud();
            app.MapQlaudHealthChecks();
        }
        else
        {
            map(app);
        }

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new GatewayHost(app, fake, new Uri(address), owned ?? [], ownedDatabase) { _disposeFake = disposeFake };
    }

    /// <summary>An official OpenAI SDK chat client pointed at the gateway.</summary>
    public ChatClient OpenAIChat(string model, string key = MasterKey)
        => new(model, new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = OpenAIBaseUri, NetworkTimeout = TimeSpan.FromSeconds(30), RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0) });

    /// <summary>An official Anthropic SDK client pointed at the gateway, with strict response validation and no retries.</summary>
    public Anthropic.AnthropicClient AnthropicClient(string key = MasterKey) => new(new Anthropic.Core.ClientOptions
    {
        ApiKey = key,
        BaseUrl = BaseUri.ToString().TrimEnd('/'),
        MaxRetries = 0,
        ResponseValidation = true,
    });

    /// <summary>A plain HTTP client with the master key, for raw wire assertions.</summary>
    public HttpClient Http(string? key = MasterKey)
    {
        var client = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        }

        return client;
    }

    private bool _disposeFake = true;

    /// <summary>Stops the host gracefully (the ledger writer flushes), keeping the fake upstream and the database.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private bool _stopped;

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_disposeFake)
        {
            await Fake.DisposeAsync();
        }

        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }

        if (_ownedDatabase is not null)
        {
            TempDatabase.Delete(_ownedDatabase);
        }
    }
}
