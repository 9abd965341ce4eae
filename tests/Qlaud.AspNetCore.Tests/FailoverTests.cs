using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Helpers;
using Anthropic.Models.Messages;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OpenAI.Chat;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Routing;

namespace Qlaud.AspNetCore.Tests;

/// <summary>
/// Retries, fallback, circuit breaking and route selection over real HTTP, with two fake upstreams: the primary (providers
/// <c>fake</c> and <c>fakeanthropic</c>) and the backup (providers <c>backup</c> and <c>backupanthropic</c>).
/// </summary>
public sealed class FailoverTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private GatewayHost? _gateway;
    private FakeProviderServer? _backup;

    private FakeProviderServer Primary => _gateway!.Fake;

    private FakeProviderServer Backup => _backup!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
    }

    /// <summary>
    /// Models: <c>duo</c> (fake/primary-gpt, backup/backup-gpt), <c>claude-duo</c> (fakeanthropic/primary-claude,
    /// backupanthropic/backup-claude), <c>claude-then-gpt</c> (fakeanthropic/primary-claude, backup/backup-gpt),
    /// <c>mix</c> (fake/in-cheap $1/$20, backup/out-cheap $10/$2), <c>solo</c> (fake/solo), <c>solo-backup</c> (backup/solo-b),
    /// <c>half-tools</c> (tools; fake/no-tools without them, backup/with-tools), <c>no-tools</c> (fake/plain, no capabilities).
    /// </summary>
    private async Task<GatewayHost> StartAsync(IDictionary<string, string?>? extra = null, Action<IServiceCollection>? services = null,
        Func<Microsoft.AspNetCore.Http.HttpContext, Microsoft.AspNetCore.Http.RequestDelegate, Task>? middleware = null)
    {
        _backup = await FakeProviderServer.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Qlaud:Providers:backup:Dialect"] = "openai",
            ["Qlaud:Providers:backup:BaseUrl"] = _backup.OpenAIBaseUri.ToString(),
            ["Qlaud:Providers:backup:ApiKey"] = "sk-backup",
            ["Qlaud:Providers:backupanthropic:Dialect"] = "anthropic",
            ["Qlaud:Providers:backupanthropic:BaseUrl"] = _backup.BaseUri.ToString(),
            ["Qlaud:Providers:backupanthropic:ApiKey"] = "sk-ant-backup",
        };
        int index = 2;
        void Model(string id, string[]? capabilities, params (string Provider, string Upstream, decimal In, decimal Out, string[]? Capabilities)[] routes)
        {
            string key = $"Qlaud:Models:{index++}";
            settings[$"{key}:Id"] = id;
            for (int c = 0; c < (capabilities?.Length ?? 0); c++)
            {
                settings[$"{key}:Capabilities:{c}"] = capabilities![c];
            }

            for (int r = 0; r < routes.Length; r++)
            {
                settings[$"{key}:Routes:{r}:Provider"] = routes[r].Provider;
                settings[$"{key}:Routes:{r}:UpstreamModel"] = routes[r].Upstream;
                settings[$"{key}:Routes:{r}:InputPerMTok"] = routes[r].In.ToString(System.Globalization.CultureInfo.InvariantCulture);
                settings[$"{key}:Routes:{r}:OutputPerMTok"] = routes[r].Out.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (routes[r].Capabilities is { } routeCapabilities)
                {
                    for (int c = 0; c < routeCapabilities.Length; c++)
                    {
                        settings[$"{key}:Routes:{r}:Capabilities:{c}"] = routeCapabilities[c];
                    }
                }
            }
        }

        Model("duo", null, ("fake", "primary-gpt", 1, 2, null), ("backup", "backup-gpt", 1, 2, null));
        Model("claude-duo", null, ("fakeanthropic", "primary-claude", 3, 15, null), ("backupanthropic", "backup-claude", 3, 15, null));
        Model("claude-then-gpt", null, ("fakeanthropic", "primary-claude", 3, 15, null), ("backup", "backup-gpt", 1, 2, null));
        Model("mix", null, ("fake", "in-cheap", 1, 20, null), ("backup", "out-cheap", 10, 2, null));
        Model("solo", null, ("fake", "solo", 1, 1, null));
        Model("solo-backup", null, ("backup", "solo-b", 1, 1, null));
        Model("half-tools", ["tools"], ("fake", "no-tools", 1, 1, ["json"]), ("backup", "with-tools", 1, 1, null));
        Model("no-tools", ["json"], ("fake", "plain", 1, 1, null));
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        _gateway = await GatewayHost.StartAsync(settings: settings, services: services, owned: [_backup], middleware: middleware);
        return _gateway;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static string Chat(string model, string extra = "", bool stream = false)
        => $$"""{"model":"{{model}}"{{(stream ? ",\"stream\":true" : "")}},"messages":[{"role":"user","content":"hi"}]{{extra}}}""";

    private async Task<HttpResponseMessage> PostAsync(string body, string path = "/v1/chat/completions")
        => await _gateway!.Http().PostAsync(path, Json(body));

    private static string Header(HttpResponseMessage response, string name) => response.Headers.GetValues(name).Single();

    [Fact]
    public async Task Post_Route500_RetriesThenFailsOverToTheNextRoute()
    {
        await StartAsync(new Dictionary<string, string?> { ["Qlaud:Routing:MaxRetries"] = "1" });
        Primary.Enqueue(FakeReply.Error(500), FakeReply.Error(502));
        Backup.Enqueue(FakeReply.Text("from the backup"));

        using var response = await PostAsync(Chat("duo"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("from the backup", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(2, Primary.Requests.Count);
        Assert.Equal("backup-gpt", Assert.Single(Backup.Requests).Model);
        Assert.Equal("backup/backup-gpt", Header(response, "x-qlaud-route"));
        Assert.Equal("3", Header(response, "x-qlaud-attempts"));
    }

    [Fact]
    public async Task Post_Route429WithShortRetryAfter_RetriesTheSameRoute()
    {
        await StartAsync(new Dictionary<string, string?> { ["Qlaud:Routing:MaxRetries"] = "1" });
        Primary.Enqueue(FakeReply.Error(429, headers: new Dictionary<string, string> { ["retry-after-ms"] = "30" }), FakeReply.Text("after waiting"));

        using var response = await PostAsync(Chat("duo"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("fake/primary-gpt", Header(response, "x-qlaud-route"));
        Assert.Equal("2", Header(response, "x-qlaud-attempts"));
        Assert.Empty(Backup.Requests);
    }

    [Fact]
    public async Task Post_Route429WithLongRetryAfter_MovesOnWithoutWaiting()
    {
        await StartAsync(new Dictionary<string, string?> { ["Qlaud:Routing:MaxRetries"] = "2", ["Qlaud:Routing:MaxRetryDelaySeconds"] = "1" });
        Primary.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(30)));
        var clock = Stopwatch.StartNew();

        using var response = await PostAsync(Chat("duo"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backup/backup-gpt", Header(response, "x-qlaud-route"));
        Assert.Single(Primary.Requests);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Post_RouteHangs_FirstByteTimeoutFailsOver()
    {
        await StartAsync(new Dictionary<string, string?> { ["Qlaud:Providers:fake:FirstByteTimeoutSeconds"] = "0.3" });
        Primary.Enqueue(FakeReply.Hang());

        using var response = await PostAsync(Chat("duo"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backup/backup-gpt", Header(response, "x-qlaud-route"));
        var hung = Assert.Single(Primary.Requests);
        await hung.Completion.WaitAsync(Wait);
        Assert.True(hung.Cancelled);
    }

    [Fact]
    public async Task Post_ConnectionRefused_FailsOver()
    {
        int closedPort;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        await StartAsync(new Dictionary<string, string?>
        {
            ["Qlaud:Providers:dead:Dialect"] = "openai",
            ["Qlaud:Providers:dead:BaseUrl"] = $"http://127.0.0.1:{closedPort}/v1",
            ["Qlaud:Models:20:Id"] = "dead-duo",
            ["Qlaud:Models:20:Routes:0:Provider"] = "dead",
            ["Qlaud:Models:20:Routes:0:InputPerMTok"] = "1",
            ["Qlaud:Models:20:Routes:0:OutputPerMTok"] = "1",
            ["Qlaud:Models:20:Routes:1:Provider"] = "backup",
            ["Qlaud:Models:20:Routes:1:UpstreamModel"] = "backup-gpt",
            ["Qlaud:Models:20:Routes:1:InputPerMTok"] = "1",
            ["Qlaud:Models:20:Routes:1:OutputPerMTok"] = "1",
        });

        using var response = await PostAsync(Chat("dead-duo"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backup/backup-gpt", Header(response, "x-qlaud-route"));
    }

    [Fact]
    public async Task Post_Route400_NoRetryNoFailover()
    {
        await StartAsync(new Dictionary<string, string?> { ["Qlaud:Routing:MaxRetries"] = "3" });
        const string error = """{"error":{"message":"temperature is out of range","type":"invalid_request_error","param":"temperature","code":null}}""";
        Primary.Enqueue(FakeReply.Error(400, error));

        using var response = await PostAsync(Chat("duo"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(error, await response.Content.ReadAsStringAsync());
        Assert.Single(Primary.Requests);
        Assert.Empty(Backup.Requests);
    }

    [Fact]
    public async Task Post_EveryRouteFails_502NamingEachRouteWithAttempts()
    {
        await StartAsync();
        Primary.Enqueue(FakeReply.Error(500));
        Backup.Enqueue(FakeReply.Error(503));

        using var response = await PostAsync(Chat("duo"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("2", Header(response, "x-qlaud-attempts"));
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        string message = doc.RootElement.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("fake/primary-gpt: The provider 'fake' answered 500", message, StringComparison.Ordinal);
        Assert.Contains("backup/backup-gpt: The provider 'backup' answered 503", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_CutAfterFirstChunk_NotRetriedAndEndsWithErrorEvent()
    {
        await StartAsync(new Dictionary<string, string?> { ["Qlaud:Routing:MaxRetries"] = "2" });
        Primary.Enqueue(FakeReply.CutOff("a long answer that will not finish", afterChunks: 1) with { ChunkSize = 4 });

        using var response = await PostAsync(Chat("duo", stream: true));
        string text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("a lo", text, StringComparison.Ordinal);
        Assert.DoesNotContain("data: [DONE]", events);
        using var last = JsonDocument.Parse(events[^1]["data: ".Length..]);
        Assert.Equal("stream_truncated", last.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Single(Primary.Requests);
        Assert.Empty(Backup.Requests);
    }

    [Fact]
    public async Task Stream_UpstreamStallsMidStream_IdleTimeoutEndsWithErrorEvent()
    {
        await StartAsync(new Dictionary<string, string?> { ["Qlaud:Providers:fake:IdleTimeoutSeconds"] = "0.5", ["Qlaud:Routing:MaxRetries"] = "2" });
        Primary.Enqueue(FakeReply.Text("slow words that stall") with { ChunkSize = 5, ChunkDelay = TimeSpan.FromSeconds(30) });
        var clock = Stopwatch.StartNew();

        using var response = await PostAsync(Chat("duo", stream: true));
        string text = await response.Content.ReadAsStringAsync();

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("slow ", text, StringComparison.Ordinal);
        using var last = JsonDocument.Parse(events[^1]["data: ".Length..]);
        Assert.Equal("stream_timeout", last.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Single(Primary.Requests);
        Assert.Empty(Backup.Requests);
    }

    [Fact]
    public async Task Stream_Route503BeforeFirstByte_FailsOverAndStreamsFromBackup()
    {
        await StartAsync();
        Primary.Enqueue(FakeReply.Error(503));
        Backup.Enqueue(FakeReply.Text("streamed from the backup") with { ChunkSize = 6 });

        using var response = await PostAsync(Chat("duo", stream: true));
        string text = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.EndsWith("data: [DONE]\n\n", text, StringComparison.Ordinal);
        Assert.Equal("backup/backup-gpt", Header(response, "x-qlaud-route"));
    }

    [Fact]
    public async Task Post_ModelsField_FallsBackToTheNextModelAndRoutingFieldsNeverReachUpstream()
    {
        await StartAsync();
        Primary.Enqueue(FakeReply.Error(500));

        using var response = await PostAsync(Chat("solo", ""","models":["solo-backup"],"provider":{"sort":"price"},"top_k":3"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backup/solo-b", Header(response, "x-qlaud-route"));
        foreach (var request in Primary.Requests.Concat(Backup.Requests))
        {
            var body = request.BodyJson!.Value;
            Assert.False(body.TryGetProperty("models", out _));
            Assert.False(body.TryGetProperty("provider", out _));
            Assert.Equal(3, body.GetProperty("top_k").GetInt32());
        }

        Assert.Equal("""{"model":"solo-b","messages":[{"role":"user","content":"hi"}],"top_k":3}""", Backup.Requests[0].BodyText);
    }

    [Fact]
    public async Task Post_ModelsWithoutModel_FirstOfModelsServes()
    {
        await StartAsync();
        using var response = await PostAsync("""{"models":["solo-backup","solo"],"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"model":"solo-b","messages":[{"role":"user","content":"hi"}]}""", Assert.Single(Backup.Requests).BodyText);
    }

    [Fact]
    public async Task Messages_ModelsWithoutModelToAnOpenAIRoute_Translated()
    {
        await StartAsync();
        using var response = await PostAsync("""{"models":["solo-backup"],"max_tokens":20,"messages":[{"role":"user","content":"hi"}]}""", "/v1/messages");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("message", doc.RootElement.GetProperty("type").GetString());
        Assert.Equal("solo-b", Assert.Single(Backup.Requests).Model);
        Assert.DoesNotContain("models", Backup.Requests[0].BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_ProviderOrder_NamedProviderFirst()
    {
        await StartAsync();
        using var response = await PostAsync(Chat("duo", ""","provider":{"order":["backup"]}"""));

        Assert.Equal("backup/backup-gpt", Header(response, "x-qlaud-route"));
        Assert.Empty(Primary.Requests);
    }

    [Fact]
    public async Task Post_ProviderIgnore_SkipsProvider()
    {
        await StartAsync();
        using var response = await PostAsync(Chat("duo", ""","provider":{"ignore":["fake"]}"""));

        Assert.Equal("backup/backup-gpt", Header(response, "x-qlaud-route"));
        Assert.Empty(Primary.Requests);
    }

    [Fact]
    public async Task Post_ProviderOnlyAndRouteFails_NoOtherProvider()
    {
        await StartAsync();
        Primary.Enqueue(FakeReply.Error(500));

        using var response = await PostAsync(Chat("duo", ""","provider":{"only":["fake"]}"""));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode); // the upstream's own status
        Assert.Empty(Backup.Requests);
    }

    [Fact]
    public async Task Post_AllowFallbacksFalse_FirstRouteOnly()
    {
        await StartAsync();
        Primary.Enqueue(FakeReply.Error(500));

        using var response = await PostAsync(Chat("duo", ""","provider":{"allow_fallbacks":false}"""));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode); // the upstream's own status
        Assert.Single(Primary.Requests);
        Assert.Empty(Backup.Requests);
    }

    [Fact]
    public async Task Post_MaxPrice_DearRouteExcluded()
    {
        await StartAsync();
        using var response = await PostAsync(Chat("mix", ""","provider":{"max_price":{"prompt":20,"completion":5}}"""));

        Assert.Equal("backup/out-cheap", Header(response, "x-qlaud-route"));
    }

    [Fact]
    public async Task Post_MalformedProvider_400NamingTheField()
    {
        await StartAsync();
        using var response = await PostAsync(Chat("duo", ""","provider":{"sort":"fastest"}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("provider.sort", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(Primary.Requests);
    }

    [Fact]
    public async Task Post_Floor_CheapestRouteForTheRequestsTokenMix()
    {
        await StartAsync();
        string longInput = new('x', 40_000);
        using var inputHeavy = await PostAsync($$"""{"model":"mix:floor","max_tokens":5,"messages":[{"role":"user","content":"{{longInput}}"}]}""");
        using var outputHeavy = await PostAsync("""{"model":"mix:floor","max_tokens":4000,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal("fake/in-cheap", Header(inputHeavy, "x-qlaud-route"));
        Assert.Equal("backup/out-cheap", Header(outputHeavy, "x-qlaud-route"));
    }

    [Fact]
    public async Task Post_Nitro_RouteWithTheHighestMeasuredThroughput()
    {
        var gateway = await StartAsync();
        var health = gateway.Services.GetRequiredService<RouteHealthRegistry>();
        var catalog = gateway.Services.GetRequiredService<Qlaud.Catalog.ModelCatalog>();
        catalog.TryGetModel("duo", out var duo);
        health.Get(duo!.Routes[0]).Statistics.RecordSuccess(TimeSpan.FromMilliseconds(200), 100, TimeSpan.FromSeconds(4)); // 25 tokens/s
        health.Get(duo.Routes[1]).Statistics.RecordSuccess(TimeSpan.FromMilliseconds(400), 400, TimeSpan.FromSeconds(2)); // 200 tokens/s

        using var nitro = await PostAsync(Chat("duo:nitro"));
        using var plain = await PostAsync(Chat("duo"));

        Assert.Equal("backup/backup-gpt", Header(nitro, "x-qlaud-route"));
        Assert.Equal("fake/primary-gpt", Header(plain, "x-qlaud-route"));
    }

    [Fact]
    public async Task Post_ToolsToRouteWithoutTools_RouteThatCanServes()
    {
        await StartAsync();
        using var response = await PostAsync(Chat("half-tools", ""","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backup/with-tools", Header(response, "x-qlaud-route"));
        Assert.Empty(Primary.Requests);
    }

    [Fact]
    public async Task Post_ToolsAndNoRouteCan_400SayingWhy()
    {
        await StartAsync();
        using var response = await PostAsync(Chat("no-tools", ""","tools":[{"type":"function","function":{"name":"f"}}]"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal("No route can serve this request: fake/plain does not support tools.", error.GetProperty("message").GetString());
        Assert.Equal("no_suitable_route", error.GetProperty("code").GetString());
        Assert.Empty(Primary.Requests);
    }

    [Fact]
    public async Task Post_UpstreamContextLengthError_MovesToTheNextRoute()
    {
        await StartAsync(new Dictionary<string, string?> { ["Qlaud:Routing:MaxRetries"] = "2" });
        Primary.Enqueue(FakeReply.Error(400, """{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"""));

        using var response = await PostAsync(Chat("duo"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backup/backup-gpt", Header(response, "x-qlaud-route"));
        Assert.Single(Primary.Requests);
    }

    [Fact]
    public async Task Breaker_RepeatedFailures_OpensSkipsRouteAndClosesAfterTheBreak()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await StartAsync(new Dictionary<string, string?>
        {
            ["Qlaud:Routing:BreakerMinimumThroughput"] = "2",
            ["Qlaud:Routing:BreakerFailureRatio"] = "0.5",
            ["Qlaud:Routing:BreakerBreakSeconds"] = "30",
        }, services => services.AddSingleton<TimeProvider>(clock));
        Primary.Enqueue(FakeReply.Error(500), FakeReply.Error(500));

        for (int i = 0; i < 2; i++)
        {
            using var failedOver = await PostAsync(Chat("duo"));
            Assert.Equal("backup/backup-gpt", Header(failedOver, "x-qlaud-route"));
        }

        using (var whileOpen = await PostAsync(Chat("duo")))
        {
            Assert.Equal("backup/backup-gpt", Header(whileOpen, "x-qlaud-route"));
            Assert.Equal("1", Header(whileOpen, "x-qlaud-attempts"));
            Assert.Equal(2, Primary.Requests.Count);
        }

        Assert.Equal("open", await CircuitAsync("duo", 0));
        clock.Advance(TimeSpan.FromSeconds(31));

        using (var probe = await PostAsync(Chat("duo")))
        {
            Assert.Equal("fake/primary-gpt", Header(probe, "x-qlaud-route"));
        }

        Assert.Equal(3, Primary.Requests.Count);
        Assert.Equal("closed", await CircuitAsync("duo", 0));
    }

    private async Task<string?> CircuitAsync(string model, int route)
    {
        using var doc = JsonDocument.Parse(await _gateway!.Http(key: null).GetStringAsync("/v1/catalog?include_latency=true"));
        var entry = doc.RootElement.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("id").GetString() == model);
        return entry.GetProperty("routes")[route].GetProperty("latency").GetProperty("circuit").GetString();
    }

    [Fact]
    public async Task ClientDisconnect_DuringBackoff_NoFurtherAttempts()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow); // the back-off never elapses on its own
        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await StartAsync(new Dictionary<string, string?> { ["Qlaud:Routing:MaxRetries"] = "2", ["Qlaud:Routing:MaxRetryDelaySeconds"] = "10" },
            services => services.AddSingleton<TimeProvider>(clock),
            async (context, next) =>
            {
                try
                {
                    await next(context);
                }
                finally
                {
                    handled.TrySetResult();
                }
            });
        Primary.Enqueue(FakeReply.Error(503, headers: new Dictionary<string, string> { ["retry-after"] = "5" }));
        using var cts = new CancellationTokenSource();

        var call = _gateway!.Http().PostAsync("/v1/chat/completions", Json(Chat("duo")), cts.Token);
        var first = await Primary.WaitForRequestAsync(timeout: Wait);
        await first.Completion.WaitAsync(Wait);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        // The gateway noticed the disconnect and finished the request while still waiting to retry; time passing changes nothing.
        await handled.Task.WaitAsync(Wait);
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Single(Primary.Requests);
        Assert.Empty(Backup.Requests);
    }

    [Fact]
    public async Task ClientDisconnect_WhileRouteHangs_AttemptCancelledAndNoFallback()
    {
        await StartAsync(new Dictionary<string, string?> { ["Qlaud:Routing:MaxRetries"] = "2" });
        Primary.Enqueue(FakeReply.Hang());
        using var cts = new CancellationTokenSource();

        var call = _gateway!.Http().PostAsync("/v1/chat/completions", Json(Chat("duo", stream: true)), cts.Token);
        var hung = await Primary.WaitForRequestAsync(timeout: Wait);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        await hung.Completion.WaitAsync(Wait);
        Assert.True(hung.Cancelled);
        await Task.Delay(200);
        Assert.Single(Primary.Requests);
        Assert.Empty(Backup.Requests);
    }

    [Fact]
    public async Task OpenAISdk_FirstRouteFails_NormalAnswerStreamedAndWhole()
    {
        await StartAsync();
        Primary.Enqueue(FakeReply.Error(500), FakeReply.Error(429));
        Backup.Enqueue(FakeReply.Text("Paris."), FakeReply.Text("Streamed Paris.") with { ChunkSize = 3 });
        var chat = _gateway!.OpenAIChat("duo");

        ChatCompletion whole = await chat.CompleteChatAsync([new UserChatMessage("Capital of France?")]);
        var streamed = new StringBuilder();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Capital of France?")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
        }

        Assert.Equal("Paris.", whole.Content[0].Text);
        Assert.Equal("Streamed Paris.", streamed.ToString());
    }

    [Theory]
    [InlineData("claude-duo")]
    [InlineData("claude-then-gpt")]
    public async Task AnthropicSdk_FirstRouteOverloaded_NormalAnswer(string model)
    {
        await StartAsync();
        Primary.Enqueue(FakeReply.Error(529), FakeReply.Error(529));
        Backup.Enqueue(FakeReply.Text("Bonjour."), FakeReply.Text("Streamed bonjour.") with { ChunkSize = 4 });
        var client = _gateway!.AnthropicClient();
        var ask = new MessageCreateParams { Model = model, MaxTokens = 100, Messages = [new UserMessageParam("Say hello in French")] };

        Message whole = await client.Messages.Create(ask);
        Message streamed = await client.Messages.CreateStreaming(ask).Aggregate();

        Assert.Equal("Bonjour.", Text(whole));
        Assert.Equal("Streamed bonjour.", Text(streamed));
        Assert.Equal(2, Primary.Requests.Count);
    }

    private static string Text(Message message) => string.Concat(message.Content.Select(static b => b.TryPickText(out var t) ? t.Text : ""));

    [Fact]
    public async Task Messages_RoutingFields_RemovedFromThePassthroughBody()
    {
        await StartAsync();
        const string body = """{"model":"claude-duo","provider":{"order":["backupanthropic"]},"max_tokens":20,"models":["duo"],"messages":[{"role":"user","content":"hi"}]}""";

        using var response = await PostAsync(body, "/v1/messages");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"model":"backup-claude","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}""", Assert.Single(Backup.Requests).BodyText);
    }

    [Fact]
    public async Task Catalog_IncludeLatency_LiveStatisticsPerRoute()
    {
        await StartAsync();
        Primary.Enqueue(FakeReply.Text("one two three") with { Usage = new FakeUsage { InputTokens = 5, OutputTokens = 30 }, Latency = TimeSpan.FromMilliseconds(20) });
        using (await PostAsync(Chat("duo")))
        {
        }

        using var live = JsonDocument.Parse(await _gateway!.Http(key: null).GetStringAsync("/v1/catalog?include_latency=true"));
        var duo = live.RootElement.GetProperty("data").EnumerateArray().Single(static m => m.GetProperty("id").GetString() == "duo");
        var latency = duo.GetProperty("routes")[0].GetProperty("latency");
        Assert.Equal(1, latency.GetProperty("requests").GetInt32());
        Assert.True(latency.GetProperty("p50_ttft_ms").GetDouble() >= 15);
        Assert.True(latency.GetProperty("tokens_per_second").GetDouble() > 0);
        Assert.Equal(0, latency.GetProperty("error_rate").GetDouble());
        Assert.Equal("closed", latency.GetProperty("circuit").GetString());
        Assert.Equal(JsonValueKind.Null, duo.GetProperty("routes")[1].GetProperty("latency").GetProperty("p50_ttft_ms").ValueKind);

        using var plain = JsonDocument.Parse(await _gateway.Http(key: null).GetStringAsync("/v1/catalog"));
        var plainDuo = plain.RootElement.GetProperty("data").EnumerateArray().Single(static m => m.GetProperty("id").GetString() == "duo");
        Assert.False(plainDuo.GetProperty("routes")[0].TryGetProperty("latency", out _));
    }
}
