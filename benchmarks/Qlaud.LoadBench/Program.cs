using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Qlaud.LoadBench;

/// <summary>
/// The gateway-overhead load benchmark. Starts the fake provider and Qlaud.Server (Release builds) as their own processes on
/// free loopback ports, drives the same traffic straight at the fake and through Qlaud, and writes one markdown table per
/// profile to stdout and to <c>benchmarks/results/load-&lt;profile&gt;.md</c>. Stops by itself; Ctrl+C stops the servers too.
/// </summary>
internal static class Program
{
    internal const string Loopback = "127.0.0.1";

    public static async Task<int> Main(string[] args)
    {
        if (args is ["--help"] or ["-h"])
        {
            Console.WriteLine(LoadOptions.Usage);
            return 0;
        }

        LoadOptions options;
        try
        {
            options = LoadOptions.Parse(args);
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            await Console.Error.WriteLineAsync(LoadOptions.Usage);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => ChildProcess.KillAll();

        // A hard bound on the whole run, whatever happens: the servers are killed and the process exits.
        // A failover profile starts its servers once per variant and runs each mix once per variant.
        int starts = 0, runs = 0;
        foreach (var profile in options.Profiles)
        {
            bool failover = profile == Profile.Failover;
            if (profile == Profile.Batch)
            {
                starts += 1;
                runs += 3;
                continue;
            }

            starts += failover ? FailoverScenario.Variants.Count : options.CompareMetering ? 2 : 1;
            runs += failover
                ? FailoverScenario.Variants.Count * options.Mixes.Count
                : options.Mixes.Count * (1 + (options.Repeat * (options.CompareMetering ? 2 : 1)));
        }

        var budget = TimeSpan.FromMinutes(options.Build ? 6 : 1) + (options.Burst > 0
            ? BurstScenario.Budget(options)
            : options.Storage != StorageChoice.None
            ? options.Profiles.Count * StorageScenario.Budget(options)
            : options.Baselines
            ? options.Profiles.Count * BaselineScenario.Budget(options)
            : (starts * (options.Prewarm + TimeSpan.FromSeconds(60))) + (runs * (options.Warmup + options.Duration + TimeSpan.FromSeconds(15))));
        using var watchdog = new Timer(static state =>
        {
            Console.Error.WriteLine($"Qlaud.LoadBench: still running after {(TimeSpan)state!:g}; stopping the servers and giving up.");
            ChildProcess.KillAll();
            Environment.Exit(3);
        }, budget, budget, Timeout.InfiniteTimeSpan);

        try
        {
            string root = Repository.FindRoot();
            if (options.Build)
            {
                Progress("building the fake provider and Qlaud.Server (Release)…");
                await Repository.BuildAsync(root, Repository.FakeProject, stop.Token);
                await Repository.BuildAsync(root, Repository.GatewayProject, stop.Token);
                if (options.Baselines || options.Burst > 0)
                {
                    Progress("building the naive proxy and the YARP forwarder (Release)…");
                    await Repository.BuildAsync(root, BaselineScenario.NaiveProject, stop.Token);
                    await Repository.BuildAsync(root, BaselineScenario.YarpProject, stop.Token);
                }
            }

            string fakeDll = Repository.Dll(root, Repository.FakeProject);
            string gatewayDll = Repository.Dll(root, Repository.GatewayProject);
            string resultsDirectory = options.ResultsDirectory ?? Path.Combine(root, "benchmarks", "results");
            Directory.CreateDirectory(resultsDirectory);
            string command = "dotnet run -c Release --project benchmarks/Qlaud.LoadBench" + (args.Length > 0 ? " -- " + string.Join(' ', args) : "");
            string machine = Machine.Describe();
            string? commit = Machine.Commit(root);
            if (options.Burst > 0)
            {
                var bursts = await BurstScenario.RunAsync(options, root, fakeDll, gatewayDll, stop.Token);
                string report = BurstScenario.Render(options, bursts, command, machine, commit);
                Console.WriteLine(report);
                string burstFile = Path.Combine(resultsDirectory, options.Tag is null ? $"load-burst{options.Burst}.md" : $"load-burst{options.Burst}-{options.Tag}.md");
                await File.WriteAllTextAsync(burstFile, report, CancellationToken.None);
                Progress($"wrote {Path.GetRelativePath(root, burstFile)}");
                return 0;
            }

            foreach (var profile in options.Profiles)
            {
                string markdown;
                if (profile == Profile.Batch)
                {
                    markdown = await BatchScenario.RunAsync(profile, options, fakeDll, gatewayDll, command, machine, commit, stop.Token);
                }
                else if (profile == Profile.Failover)
                {
                    var failoverRows = await FailoverScenario.RunAsync(profile, options, fakeDll, gatewayDll, stop.Token);
                    markdown = FailoverReport.Render(profile, options, failoverRows, command, machine, commit);
                }
                else if (options.Storage != StorageChoice.None)
                {
                    var (storageRows, facts) = await StorageScenario.RunAsync(profile, options, fakeDll, gatewayDll, stop.Token);
                    markdown = StorageReport.Render(profile, options, storageRows, facts, command, machine, commit);
                }
                else if (options.Baselines)
                {
                    var (baselineRows, hops) = await BaselineScenario.RunAsync(profile, options, root, fakeDll, gatewayDll, stop.Token);
                    markdown = BaselineReport.Render(profile, options, baselineRows, hops, command, machine, commit);
                }
                else
                {
                    var rows = await RunProfileAsync(profile, options, fakeDll, gatewayDll, stop.Token);
                    markdown = Report.Render(profile, options, rows, command, machine, commit);
                }

                Console.WriteLine(markdown);
                string name = options.Storage != StorageChoice.None ? profile.Name + "-" + StorageScenario.Suffix(profile, options)
                    : options.Baselines ? profile.Name + "-baselines" : profile.Name;
                string file = Path.Combine(resultsDirectory, options.Tag is null ? $"load-{name}.md" : $"load-{name}-{options.Tag}.md");
                await File.WriteAllTextAsync(file, markdown, CancellationToken.None);
                Progress($"wrote {Path.GetRelativePath(root, file)}");
            }

            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("Qlaud.LoadBench: cancelled.");
            return 130;
        }
        catch (InvalidOperationException ex)
        {
            await Console.Error.WriteLineAsync("Qlaud.LoadBench: " + ex.Message);
            return 1;
        }
        finally
        {
            ChildProcess.KillAll();
        }
    }

    private static async Task<List<Row>> RunProfileAsync(Profile profile, LoadOptions options, string fakeDll, string gatewayDll, CancellationToken cancellationToken)
    {
        var workDirectory = Directory.CreateTempSubdirectory("qlaud-loadbench-");
        try
        {
            int fakePort = FreePort();
            int gatewayPort = FreePort();
            string masterKey = "qlk_live_" + RandomNumberGenerator.GetString("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 43);
            var startTimeout = TimeSpan.FromSeconds(60);

            Progress($"{profile.Name}: starting the fake provider on port {fakePort} and Qlaud on port {gatewayPort}");
            using var fake = await ChildProcess.StartAsync("the fake provider", fakeDll,
                [
                    "--urls", $"http://{Loopback}:{fakePort}",
                    "--latency-ms", Invariant(profile.UpstreamLatencyMs),
                    "--chunk-size", Invariant(options.ChunkSize),
                    "--chunk-delay-ms", Invariant(profile.ChunkDelayMs),
                    "--text", RequestBodies.AnswerText(options.AnswerChars),
                ],
                new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = "Production" },
                workDirectory.FullName, "fake-provider listening on", startTimeout, cancellationToken);

            using var gateway = await ChildProcess.StartAsync("Qlaud.Server", gatewayDll,
                ["--urls", $"http://{Loopback}:{gatewayPort}"],
                GatewayEnvironment(options, masterKey, fakePort),
                workDirectory.FullName, "Qlaud gateway listening on", startTimeout, cancellationToken);

            // --compare-metering: a second gateway, the same in every setting but metering (and its own database file).
            int meteringOffPort = options.CompareMetering ? FreePort() : 0;
            using var meteringOff = options.CompareMetering
                ? await ChildProcess.StartAsync("Qlaud.Server (metering off)", gatewayDll,
                    ["--urls", $"http://{Loopback}:{meteringOffPort}"],
                    new Dictionary<string, string>(GatewayEnvironment(options, masterKey, fakePort))
                    {
                        ["Qlaud__Metering__Enabled"] = "false",
                        ["Qlaud__Storage__ConnectionString"] = "Data Source=qlaud-metering-off.db",
                    },
                    workDirectory.FullName, "Qlaud gateway listening on", startTimeout, cancellationToken)
                : null;

            var self = Process.GetCurrentProcess();
            (string, Func<TimeSpan>)[] Probes(ChildProcess qlaud) =>
            [
                ("qlaud", () => qlaud.CpuTime),
                ("fake", () => fake.CpuTime),
                ("loadgen", () =>
                {
                    self.Refresh();
                    return self.TotalProcessorTime;
                }),
                ("machine", Machine.BusyTime),
            ];
            var cpu = Probes(gateway);
            var cpuMeteringOff = meteringOff is null ? null : Probes(meteringOff);

            var fakeBase = new Uri($"http://{Loopback}:{fakePort}");
            var gatewayBase = new Uri($"http://{Loopback}:{gatewayPort}");
            KeyValuePair<string, string>[] fakeAuth = [new("Authorization", "Bearer x")];
            KeyValuePair<string, string>[] openAIAuth = [new("Authorization", "Bearer " + masterKey)];
            KeyValuePair<string, string>[] anthropicAuth = [new("x-api-key", masterKey), new("anthropic-version", "2023-06-01")];
            byte[] nonStream = RequestBodies.OpenAI(stream: false);
            byte[] stream = RequestBodies.OpenAI(stream: true);
            var directStream = new LoadTarget(Report.Direct, new Uri(fakeBase, "/v1/chat/completions"), stream, fakeAuth, true, TokenDialect.OpenAI);

            var targets = new Dictionary<Mix, (LoadTarget Direct, LoadTarget Qlaud)>
            {
                [Mix.NonStream] = (
                    new LoadTarget(Report.Direct, new Uri(fakeBase, "/v1/chat/completions"), nonStream, fakeAuth, false, TokenDialect.None),
                    new LoadTarget("qlaud", new Uri(gatewayBase, "/v1/chat/completions"), nonStream, openAIAuth, false, TokenDialect.None)),
                [Mix.Stream] = (
                    directStream,
                    new LoadTarget("qlaud passthrough", new Uri(gatewayBase, "/v1/chat/completions"), stream, openAIAuth, true, TokenDialect.OpenAI)),
                [Mix.Translate] = (
                    directStream,
                    new LoadTarget("qlaud anthropic→openai", new Uri(gatewayBase, "/v1/messages"), RequestBodies.Anthropic(), anthropicAuth, true, TokenDialect.Anthropic)),
            };

            // The same requests to the gateway without metering (its key is the same master key).
            var offBase = new Uri($"http://{Loopback}:{meteringOffPort}");
            var withoutMetering = new Dictionary<Mix, LoadTarget>();
            foreach (var (mix, (_, qlaud)) in targets)
            {
                withoutMetering[mix] = qlaud with { Label = qlaud.Label + Report.MeteringOffSuffix, Uri = new Uri(offBase, qlaud.Uri.PathAndQuery) };
            }

            if (options.Prewarm > TimeSpan.Zero)
            {
                var warm = new List<LoadTarget>();
                foreach (var mix in options.Mixes)
                {
                    warm.Add(targets[mix].Direct);
                    warm.Add(targets[mix].Qlaud);
                    if (meteringOff is not null)
                    {
                        warm.Add(withoutMetering[mix]);
                    }
                }

                Progress($"{profile.Name}: pre-warming both servers for {options.Prewarm.TotalSeconds:0} s");
                await LoadGenerator.WarmAsync(warm, Math.Max(1, profile.Connections / warm.Count), options.Prewarm, cancellationToken);
            }

            var generator = new LoadGenerator(capacity: 1 << 20);
            var meteringOffGenerator = meteringOff is null ? null : new LoadGenerator(capacity: 1 << 20); // the off side of interleaved pairs
            var rows = new List<Row>();
            foreach (var mix in options.Mixes)
            {
                var (direct, qlaud) = targets[mix];
                if (!rows.Exists(r => r.Path == Report.Direct && r.Result is not null && ReferenceEquals(r.Target, direct)))
                {
                    rows.Add(await RunAsync(generator, mix == Mix.Translate ? Mix.Stream : mix, profile, options, cpu, cancellationToken, direct));
                }

                // Repeated runs alternate which gateway goes first (on, off, off, on, …) so a drift in the machine's state
                // favours neither.
                for (int repetition = 0; repetition < options.Repeat; repetition++)
                {
                    bool offFirst = repetition % 2 == 1;
                    if (cpuMeteringOff is null)
                    {
                        rows.Add(await RunAsync(generator, mix, profile, options, cpu, cancellationToken, qlaud));
                    }
                    else if (options.Interleave > TimeSpan.Zero)
                    {
                        rows.AddRange(await RunInterleavedAsync((generator, meteringOffGenerator!), mix, profile, options, (cpu, cpuMeteringOff), offFirst, cancellationToken, qlaud, withoutMetering[mix]));
                    }
                    else
                    {
                        var off = withoutMetering[mix];
                        if (offFirst)
                        {
                            rows.Add(await RunAsync(generator, mix, profile, options, cpuMeteringOff, cancellationToken, off) with { MeteringOff = true });
                        }

                        rows.Add(await RunAsync(generator, mix, profile, options, cpu, cancellationToken, qlaud));
                        if (!offFirst)
                        {
                            rows.Add(await RunAsync(generator, mix, profile, options, cpuMeteringOff, cancellationToken, off) with { MeteringOff = true });
                        }
                    }

                    fake.EnsureRunning();
                    gateway.EnsureRunning();
                    meteringOff?.EnsureRunning();
                }
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

    /// <summary>One metering on/off pair as a single interleaved run (<see cref="LoadGenerator.RunInterleavedAsync"/>); returns the on row, then the off row.</summary>
    private static async Task<Row[]> RunInterleavedAsync((LoadGenerator One, LoadGenerator Other) generators, Mix mix, Profile profile, LoadOptions options,
        (IReadOnlyList<(string, Func<TimeSpan>)> On, IReadOnlyList<(string, Func<TimeSpan>)> Off) cpu, bool offFirst, CancellationToken cancellationToken,
        LoadTarget on, LoadTarget off)
    {
        foreach (var target in (LoadTarget[])[on, off])
        {
            if (await LoadGenerator.ProbeAsync(target, cancellationToken) is { } problem)
            {
                Progress($"{profile.Name} {mix} {target.Label}: skipped, {problem}");
                return [new Row(mix, on.Label, null, problem) { Target = on }, new Row(mix, off.Label, null, problem) { Target = off, MeteringOff = true }];
            }
        }

        var (first, second) = offFirst ? (off, on) : (on, off);
        var (firstCpu, secondCpu) = offFirst ? (cpu.Off, cpu.On) : (cpu.On, cpu.Off);
        var (a, b) = await LoadGenerator.RunInterleavedAsync(generators.One, generators.Other, first, second, profile.Connections, profile.RatePerSecond,
            options.Warmup, options.Duration, options.Interleave, options.Interleave / 10, firstCpu, secondCpu, cancellationToken);
        var (onResult, offResult) = offFirst ? (b, a) : (a, b);
        foreach (var result in (RunResult[])[a, b])
        {
            Progress(string.Create(CultureInfo.InvariantCulture,
                $"{profile.Name} {mix} {result.Label} (interleaved): {result.RequestsPerSecond:0} req/s, p50 {result.Latency.P50:0.000} ms, p99 {result.Latency.P99:0.000} ms, errors {result.Errors}"));
        }

        return [new Row(mix, on.Label, onResult) { Target = on }, new Row(mix, off.Label, offResult) { Target = off, MeteringOff = true }];
    }

    private static async Task<Row> RunAsync(LoadGenerator generator, Mix mix, Profile profile, LoadOptions options,
        IReadOnlyList<(string, Func<TimeSpan>)> cpu, CancellationToken cancellationToken, LoadTarget target)
    {
        if (await LoadGenerator.ProbeAsync(target, cancellationToken) is { } problem)
        {
            Progress($"{profile.Name} {mix} {target.Label}: skipped, {problem}");
            return new Row(mix, target.Label, null, problem) { Target = target };
        }

        var result = await generator.RunAsync(target, profile.Connections, profile.RatePerSecond, options.Warmup, options.Duration, cpu, cancellationToken);
        Progress(string.Create(CultureInfo.InvariantCulture,
            $"{profile.Name} {mix} {target.Label}: {result.RequestsPerSecond:0} req/s, p50 {result.Latency.P50:0.000} ms, p99 {result.Latency.P99:0.000} ms, errors {result.Errors}"));
        return new Row(mix, target.Label, result) { Target = target };
    }

    internal static Dictionary<string, string> GatewayEnvironment(LoadOptions options, string masterKey, int fakePort)
    {
        var environment = BaseGatewayEnvironment(options, masterKey, fakePort);
        foreach (var (key, value) in options.GatewayEnvironment)
        {
            environment[key] = value;
        }

        return environment;
    }

    private static Dictionary<string, string> BaseGatewayEnvironment(LoadOptions options, string masterKey, int fakePort) => new()
    {
        ["DOTNET_ENVIRONMENT"] = "Production",
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["Logging__LogLevel__Default"] = options.GatewayLogLevel,
        ["Qlaud__Bootstrap__MasterKey"] = masterKey,
        ["Qlaud__Providers__fake__Dialect"] = "openai",
        ["Qlaud__Providers__fake__BaseUrl"] = $"http://{Loopback}:{fakePort}/v1",
        ["Qlaud__Providers__fake__ApiKey"] = "x",
        ["Qlaud__Models__0__Id"] = RequestBodies.Model,
        ["Qlaud__Models__0__Routes__0__Provider"] = "fake",
        ["Qlaud__Models__0__Routes__0__UpstreamModel"] = "bench-upstream",
        ["Qlaud__Models__0__Routes__0__InputPerMTok"] = "1",
        ["Qlaud__Models__0__Routes__0__OutputPerMTok"] = "2",
    };

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    internal static void Progress(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
}
