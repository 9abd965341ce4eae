using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

namespace Qlaud.LoadBench;

/// <summary>
/// The failover profile: one model with two routes, each on its own fake provider process; route A answers every other
/// request with a 503, route B is healthy. Qlaud runs three times with fresh processes: route A healthy (the baseline),
/// route A failing with the default circuit breaker, and route A failing with the breaker effectively off.
/// </summary>
/// <remarks>
/// <c>Qlaud:Routing:MaxRetries</c> is 0 in every run, so a failed attempt on route A moves straight to route B instead of
/// retrying A after a back-off: the cost measured is the failover itself. Each answer is classified by the gateway's
/// <c>x-qlaud-route</c> and <c>x-qlaud-attempts</c> headers.
/// </remarks>
internal static class FailoverScenario
{
    public const string ProviderA = "fake-a";
    public const string ProviderB = "fake-b";
    public const string UpstreamModel = "bench-upstream";
    public const string RouteA = ProviderA + "/" + UpstreamModel;
    public const string RouteB = ProviderB + "/" + UpstreamModel;

    /// <summary>Route A fails requests 1, 3, 5, … (in the order they reach it) with this status.</summary>
    public const int FailEvery = 2;

    public const int FailStatus = 503;

    /// <summary>The gateway's Warning line when a route's circuit opens (<c>RouteHealthRegistry</c>).</summary>
    public const string CircuitOpenedMarker = "Circuit of route " + RouteA + " opened";

    /// <summary>The three gateway runs, in the order they are made.</summary>
    public static IReadOnlyList<FailoverVariant> Variants { get; } =
    [
        new("healthy", "route A healthy (baseline)", FailingA: false, []),
        new("breaker-default", "A fails 1 in 2, breaker default", FailingA: true, []),
        new("breaker-off", "A fails 1 in 2, breaker off", FailingA: true, [new("Qlaud__Routing__BreakerFailureRatio", "1")]),
    ];

    public static async Task<List<FailoverRow>> RunAsync(Profile profile, LoadOptions options, string fakeDll, string gatewayDll, CancellationToken cancellationToken)
    {
        var rows = new List<FailoverRow>();
        foreach (var variant in Variants)
        {
            rows.AddRange(await RunVariantAsync(variant, profile, options, fakeDll, gatewayDll, cancellationToken));
        }

        return rows;
    }

    private static async Task<List<FailoverRow>> RunVariantAsync(FailoverVariant variant, Profile profile, LoadOptions options, string fakeDll, string gatewayDll,
        CancellationToken cancellationToken)
    {
        var workDirectory = Directory.CreateTempSubdirectory("qlaud-loadbench-");
        try
        {
            int portA = Program.FreePort();
            int portB = Program.FreePort();
            int gatewayPort = Program.FreePort();
            string masterKey = "qlk_live_" + RandomNumberGenerator.GetString("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 43);
            var startTimeout = TimeSpan.FromSeconds(60);

            Program.Progress($"{profile.Name} {variant.Name}: starting route A's fake on port {portA}{(variant.FailingA ? $" (fails 1 request in {FailEvery} with {FailStatus})" : "")}, route B's on {portB}, Qlaud on {gatewayPort}");
            string[] failing = variant.FailingA ? ["--fail-every", Invariant(FailEvery), "--fail-status", Invariant(FailStatus)] : [];
            using var fakeA = await StartFakeAsync("route A's fake provider", fakeDll, portA, profile, options, failing, workDirectory.FullName, startTimeout, cancellationToken);
            using var fakeB = await StartFakeAsync("route B's fake provider", fakeDll, portB, profile, options, [], workDirectory.FullName, startTimeout, cancellationToken);
            using var gateway = await ChildProcess.StartAsync("Qlaud.Server", gatewayDll,
                ["--urls", $"http://{Program.Loopback}:{gatewayPort}"],
                GatewayEnvironment(options, variant, masterKey, portA, portB),
                workDirectory.FullName, "Qlaud gateway listening on", startTimeout, cancellationToken);

            var self = Process.GetCurrentProcess();
            (string, Func<TimeSpan>)[] cpu =
            [
                ("qlaud", () => gateway.CpuTime),
                ("fake", () => fakeA.CpuTime + fakeB.CpuTime),
                ("loadgen", () =>
                {
                    self.Refresh();
                    return self.TotalProcessorTime;
                }),
                ("machine", Machine.BusyTime),
            ];

            var gatewayBase = new Uri($"http://{Program.Loopback}:{gatewayPort}");
            KeyValuePair<string, string>[] openAIAuth = [new("Authorization", "Bearer " + masterKey)];
            KeyValuePair<string, string>[] anthropicAuth = [new("x-api-key", masterKey), new("anthropic-version", "2023-06-01")];
            string[] routes = [RouteA, RouteB];
            var targets = new Dictionary<Mix, LoadTarget>
            {
                [Mix.NonStream] = new LoadTarget("qlaud", new Uri(gatewayBase, "/v1/chat/completions"), RequestBodies.OpenAI(stream: false), openAIAuth, false, TokenDialect.None) { Routes = routes },
                [Mix.Stream] = new LoadTarget("qlaud passthrough", new Uri(gatewayBase, "/v1/chat/completions"), RequestBodies.OpenAI(stream: true), openAIAuth, true, TokenDialect.OpenAI) { Routes = routes },
                [Mix.Translate] = new LoadTarget("qlaud anthropic→openai", new Uri(gatewayBase, "/v1/messages"), RequestBodies.Anthropic(), anthropicAuth, true, TokenDialect.Anthropic) { Routes = routes },
            };

            var circuitOpened = gateway.CountLines(CircuitOpenedMarker);
            if (options.Prewarm > TimeSpan.Zero)
            {
                var warm = new List<LoadTarget>();
                foreach (var mix in options.Mixes)
                {
                    warm.Add(targets[mix]);
                }

                Program.Progress($"{profile.Name} {variant.Name}: pre-warming for {options.Prewarm.TotalSeconds:0} s");
                await LoadGenerator.WarmAsync(warm, Math.Max(1, profile.Connections / warm.Count), options.Prewarm, cancellationToken);
            }

            var generator = new LoadGenerator(capacity: 1 << 20);
            var rows = new List<FailoverRow>();
            foreach (var mix in options.Mixes)
            {
                var target = targets[mix];
                if (await LoadGenerator.ProbeAsync(target, cancellationToken) is { } problem)
                {
                    Program.Progress($"{profile.Name} {variant.Name} {mix}: skipped, {problem}");
                    rows.Add(new FailoverRow(variant, mix, null, 0, 0, problem));
                    continue;
                }

                long openedBefore = circuitOpened.Count;
                var result = await generator.RunAsync(target, profile.Connections, profile.RatePerSecond, options.Warmup, options.Duration, cpu, cancellationToken);
                long opened = circuitOpened.Count - openedBefore;
                fakeA.EnsureRunning();
                fakeB.EnsureRunning();
                gateway.EnsureRunning();
                var routing = result.Routes!;
                Program.Progress(string.Create(CultureInfo.InvariantCulture,
                    $"{profile.Name} {variant.Name} {mix}: {result.RequestsPerSecond:0} req/s, success {result.SuccessRate:P2}, p99 {result.Latency.P99:0.000} ms, served A {routing.Served[0]} B {routing.Served[1]}, failed over {routing.FailedOver.Count} (p99 {routing.FailedOver.P99:0.000} ms), A skipped {routing.Skipped}, circuit opened {opened}× ({circuitOpened.Count}× since start), errors {result.MeasuredErrors}"));
                rows.Add(new FailoverRow(variant, mix, result, opened, circuitOpened.Count));
            }

            return rows;
        }
        finally
        {
            ChildProcess.KillAll();
            try
            {
                workDirectory.Delete(recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp directory is harmless.
            }
        }
    }

    private static Task<ChildProcess> StartFakeAsync(string name, string fakeDll, int port, Profile profile, LoadOptions options, string[] extra,
        string workDirectory, TimeSpan timeout, CancellationToken cancellationToken)
        => ChildProcess.StartAsync(name, fakeDll,
            [
                "--urls", $"http://{Program.Loopback}:{port}",
                "--latency-ms", Invariant(profile.UpstreamLatencyMs),
                "--chunk-size", Invariant(options.ChunkSize),
                "--chunk-delay-ms", Invariant(profile.ChunkDelayMs),
                "--text", RequestBodies.AnswerText(options.AnswerChars),
                .. extra,
            ],
            new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = "Production" },
            workDirectory, "fake-provider listening on", timeout, cancellationToken);

    /// <summary>Two providers and one model routed to A first, then B; no retries on a route; the variant's breaker settings, then the user's.</summary>
    private static Dictionary<string, string> GatewayEnvironment(LoadOptions options, FailoverVariant variant, string masterKey, int portA, int portB)
    {
        var environment = new Dictionary<string, string>
        {
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = options.GatewayLogLevel,
            ["Qlaud__Bootstrap__MasterKey"] = masterKey,
            ["Qlaud__Routing__MaxRetries"] = "0",
            [$"Qlaud__Providers__{ProviderA}__Dialect"] = "openai",
            [$"Qlaud__Providers__{ProviderA}__BaseUrl"] = $"http://{Program.Loopback}:{portA}/v1",
            [$"Qlaud__Providers__{ProviderA}__ApiKey"] = "x",
            [$"Qlaud__Providers__{ProviderB}__Dialect"] = "openai",
            [$"Qlaud__Providers__{ProviderB}__BaseUrl"] = $"http://{Program.Loopback}:{portB}/v1",
            [$"Qlaud__Providers__{ProviderB}__ApiKey"] = "x",
            ["Qlaud__Models__0__Id"] = RequestBodies.Model,
            ["Qlaud__Models__0__Routes__0__Provider"] = ProviderA,
            ["Qlaud__Models__0__Routes__0__UpstreamModel"] = UpstreamModel,
            ["Qlaud__Models__0__Routes__0__InputPerMTok"] = "1",
            ["Qlaud__Models__0__Routes__0__OutputPerMTok"] = "2",
            ["Qlaud__Models__0__Routes__1__Provider"] = ProviderB,
            ["Qlaud__Models__0__Routes__1__UpstreamModel"] = UpstreamModel,
            ["Qlaud__Models__0__Routes__1__InputPerMTok"] = "1",
            ["Qlaud__Models__0__Routes__1__OutputPerMTok"] = "2",
        };
        foreach (var (key, value) in variant.GatewayEnvironment)
        {
            environment[key] = value;
        }

        foreach (var (key, value) in options.GatewayEnvironment)
        {
            environment[key] = value;
        }

        return environment;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>One gateway run of the failover profile.</summary>
/// <param name="Name">A short name for progress lines.</param>
/// <param name="Label">The row label in the report.</param>
/// <param name="FailingA">Whether route A's fake fails every other request.</param>
/// <param name="GatewayEnvironment">Gateway settings of this run on top of the common ones (the breaker's).</param>
internal sealed record FailoverVariant(string Name, string Label, bool FailingA, IReadOnlyList<KeyValuePair<string, string>> GatewayEnvironment);

/// <summary>One mix of one failover run: the result, how often route A's circuit opened, or why it was skipped.</summary>
/// <param name="CircuitOpened">Times route A's circuit opened during the row's warm-up and measured window.</param>
/// <param name="CircuitOpenedSinceStart">Times it opened from the gateway's start to the end of the row (pre-warm and earlier rows included).</param>
internal sealed record FailoverRow(FailoverVariant Variant, Mix Mix, RunResult? Result, long CircuitOpened, long CircuitOpenedSinceStart, string? Skipped = null);
