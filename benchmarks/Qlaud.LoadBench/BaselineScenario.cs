using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Qlaud.LoadBench;

/// <summary>One hop under test in a baselines run: a proxy or a gateway process, its start-up time and its memory.</summary>
/// <param name="Name">The row label (<c>naive proxy</c>, <c>YARP</c>, <c>qlaud</c>, …).</param>
/// <param name="StartupMs">From process start to the first answered request (a non-streamed chat completion).</param>
/// <param name="IdleRss">Resident memory a second after that first answer, bytes.</param>
/// <param name="PeakRss">Peak resident memory over the whole run (<c>VmHWM</c>), bytes.</param>
/// <param name="EndRss">Resident memory at the end of the run, bytes.</param>
internal sealed record HopFacts(string Name, double StartupMs, long IdleRss, long PeakRss, long EndRss);

/// <summary>
/// <c>--baselines</c>: every target in one interleaved run per mix, so they share the same stretch of the machine's life:
/// direct to the fake, the naive .NET proxy, YARP as a minimal forwarder, Qlaud with many end-user keys (metering on), and
/// Qlaud with metering off. Reports each hop's CPU per request, start-up time and memory beside the usual latency columns.
/// </summary>
internal static class BaselineScenario
{
    public const string NaiveProject = "benchmarks/Qlaud.NaiveProxy/Qlaud.NaiveProxy.csproj";
    public const string YarpProject = "benchmarks/Qlaud.YarpProxy/Qlaud.YarpProxy.csproj";

    public const string Naive = "naive proxy";
    public const string Yarp = "YARP";
    public const string Qlaud = "qlaud";
    public const string QlaudOff = "qlaud, metering off";

    /// <summary>Seconds of traffic and the number of starts this scenario adds to the watchdog's budget.</summary>
    public static TimeSpan Budget(LoadOptions options)
    {
        const int Targets = 5;
        var perMix = Targets * (options.Warmup + options.Duration + (2 * options.Interleave) + TimeSpan.FromSeconds(2));
        return TimeSpan.FromSeconds(120) + options.Prewarm + (options.Mixes.Count * options.Repeat * perMix);
    }

    public static async Task<(List<Row> Rows, List<HopFacts> Hops)> RunAsync(Profile profile, LoadOptions options, string root, string fakeDll, string gatewayDll,
        CancellationToken cancellationToken)
    {
        var workDirectory = Directory.CreateTempSubdirectory("qlaud-loadbench-");
        try
        {
            var startTimeout = TimeSpan.FromSeconds(60);
            int fakePort = Program.FreePort();
            string masterKey = "qlk_live_" + RandomNumberGenerator.GetString("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 43);
            Program.Progress($"{profile.Name}: starting the fake provider on port {fakePort}");
            using var fake = await ChildProcess.StartAsync("the fake provider", fakeDll,
                [
                    "--urls", $"http://{Program.Loopback}:{fakePort}",
                    "--latency-ms", Invariant(profile.UpstreamLatencyMs),
                    "--chunk-size", Invariant(options.ChunkSize),
                    "--chunk-delay-ms", Invariant(profile.ChunkDelayMs),
                    "--text", RequestBodies.AnswerText(options.AnswerChars),
                ],
                new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = "Production" },
                workDirectory.FullName, "fake-provider listening on", startTimeout, cancellationToken);
            var fakeBase = new Uri($"http://{Program.Loopback}:{fakePort}");
            string upstream = fakeBase.ToString().TrimEnd('/');
            var production = new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = "Production", ["ASPNETCORE_ENVIRONMENT"] = "Production" };

            // Each hop: started alone, timed to its first answered request, then left idle for a second before its RSS is read.
            var hops = new List<(string Name, ChildProcess Process, Uri Base, double StartupMs, long IdleRss)>();
            byte[] nonStream = RequestBodies.OpenAI(stream: false);
            async Task StartHopAsync(string name, string dll, string marker, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, string key)
            {
                int port = Program.FreePort();
                var process = await ChildProcess.StartAsync(name, dll, ["--urls", $"http://{Program.Loopback}:{port}", .. arguments], environment,
                    workDirectory.FullName, marker, startTimeout, cancellationToken);
                var hopBase = new Uri($"http://{Program.Loopback}:{port}");
                var first = new LoadTarget(name, new Uri(hopBase, "/v1/chat/completions"), nonStream, [new("Authorization", "Bearer " + key)], false, TokenDialect.None);
                if (await LoadGenerator.ProbeAsync(first, cancellationToken) is { } problem)
                {
                    throw new InvalidOperationException($"{name} did not answer its first request: {problem}{process.Tail()}");
                }

                double startupMs = Stopwatch.GetElapsedTime(process.StartedAt).TotalMilliseconds;
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                hops.Add((name, process, hopBase, startupMs, process.Memory().Now));
                Program.Progress(string.Create(CultureInfo.InvariantCulture, $"{profile.Name}: {name} on port {port}, first answer {startupMs:0} ms after start, RSS {process.Memory().Now / 1048576.0:0.0} MB"));
            }

            try
            {
                await StartHopAsync(Naive, Repository.Dll(root, NaiveProject), "naive proxy listening on", ["--upstream", upstream], production, "x");
                await StartHopAsync(Yarp, Repository.Dll(root, YarpProject), "YARP proxy listening on", ["--upstream", upstream], production, "x");
                await StartHopAsync(Qlaud, gatewayDll, "Qlaud gateway listening on", [], Program.GatewayEnvironment(options, masterKey, fakePort), masterKey);
                await StartHopAsync(QlaudOff, gatewayDll, "Qlaud gateway listening on", [],
                    new Dictionary<string, string>(Program.GatewayEnvironment(options, masterKey, fakePort))
                    {
                        ["Qlaud__Metering__Enabled"] = "false",
                        ["Qlaud__Storage__ConnectionString"] = "Data Source=qlaud-metering-off.db",
                    },
                    masterKey);

                var naive = hops[0].Base;
                var yarp = hops[1].Base;
                var qlaud = hops[2].Base;
                var qlaudOff = hops[3].Base;
                var (openAIKeys, anthropicKeys) = await MintKeysAsync(qlaud, masterKey, options.Keys, cancellationToken);
                var (openAIKeysOff, anthropicKeysOff) = await MintKeysAsync(qlaudOff, masterKey, options.Keys, cancellationToken);
                if (options.Keys > 0)
                {
                    Program.Progress($"{profile.Name}: minted {options.Keys} end-user keys on each Qlaud gateway");
                }

                KeyValuePair<string, string>[] fakeAuth = [new("Authorization", "Bearer x")];
                KeyValuePair<string, string>[] openAIMaster = options.Keys > 0 ? [] : [new("Authorization", "Bearer " + masterKey)];
                KeyValuePair<string, string>[] anthropicMaster = options.Keys > 0 ? [new("anthropic-version", "2023-06-01")] : [new("x-api-key", masterKey), new("anthropic-version", "2023-06-01")];
                byte[] stream = RequestBodies.OpenAI(stream: true);
                byte[] anthropic = RequestBodies.Anthropic();
                string keysLabel = options.Keys > 0 ? Invariant($", {options.Keys} keys") : ", master key";

                LoadTarget Chat(string label, Uri hopBase, bool streamed, KeyValuePair<string, string>[] headers, KeyRing? keys = null)
                    => new(label, new Uri(hopBase, "/v1/chat/completions"), streamed ? stream : nonStream, headers, streamed, streamed ? TokenDialect.OpenAI : TokenDialect.None) { Keys = keys };

                var targets = new Dictionary<Mix, LoadTarget[]>();
                foreach (var mix in options.Mixes)
                {
                    targets[mix] = mix == Mix.Translate
                        ? [
                            Chat(Report.Direct, fakeBase, true, fakeAuth),
                            new LoadTarget(Qlaud + " anthropic→openai" + keysLabel, new Uri(qlaud, "/v1/messages"), anthropic, anthropicMaster, true, TokenDialect.Anthropic) { Keys = anthropicKeys },
                            new LoadTarget(Qlaud + " anthropic→openai" + keysLabel + Report.MeteringOffSuffix, new Uri(qlaudOff, "/v1/messages"), anthropic, anthropicMaster, true, TokenDialect.Anthropic) { Keys = anthropicKeysOff },
                        ]
                        : [
                            Chat(Report.Direct, fakeBase, mix == Mix.Stream, fakeAuth),
                            Chat(Naive, naive, mix == Mix.Stream, fakeAuth),
                            Chat(Yarp, yarp, mix == Mix.Stream, fakeAuth),
                            Chat(Qlaud + keysLabel, qlaud, mix == Mix.Stream, openAIMaster, openAIKeys),
                            Chat(Qlaud + keysLabel + Report.MeteringOffSuffix, qlaudOff, mix == Mix.Stream, openAIMaster, openAIKeysOff),
                        ];
                }

                Func<TimeSpan>? HopOf(LoadTarget target)
                {
                    foreach (var hop in hops)
                    {
                        if (target.Uri.Port == hop.Base.Port)
                        {
                            var process = hop.Process;
                            return () => process.CpuTime;
                        }
                    }

                    return null;
                }

                var self = Process.GetCurrentProcess();
                (string, Func<TimeSpan>)[] shared =
                [
                    ("fake", () => fake.CpuTime),
                    ("loadgen", () =>
                    {
                        self.Refresh();
                        return self.TotalProcessorTime;
                    }),
                    ("servers", () =>
                    {
                        var sum = TimeSpan.Zero;
                        foreach (var hop in hops)
                        {
                            sum += hop.Process.CpuTime;
                        }

                        return sum;
                    }),
                    ("machine", Machine.BusyTime),
                ];

                foreach (var mix in options.Mixes)
                {
                    foreach (var target in targets[mix])
                    {
                        if (await LoadGenerator.ProbeAsync(target, cancellationToken) is { } problem)
                        {
                            throw new InvalidOperationException($"{mix} {target.Label}: {problem}");
                        }
                    }
                }

                if (options.Prewarm > TimeSpan.Zero)
                {
                    var warm = targets.Values.SelectMany(static t => t).Distinct().ToList();
                    Program.Progress($"{profile.Name}: pre-warming every target for {options.Prewarm.TotalSeconds:0} s");
                    await LoadGenerator.WarmAsync(warm, Math.Max(1, profile.Connections / warm.Count), options.Prewarm, cancellationToken);
                }

                var rows = new List<Row>();
                var block = options.Interleave > TimeSpan.Zero ? options.Interleave : TimeSpan.FromSeconds(1);
                foreach (var mix in options.Mixes)
                {
                    var mixTargets = targets[mix];
                    var generators = mixTargets.Select(static _ => new LoadGenerator(capacity: 1 << 20)).ToArray();
                    var hopProbes = mixTargets.Select(HopOf).ToArray();
                    for (int repetition = 0; repetition < options.Repeat; repetition++)
                    {
                        // Repeated runs reverse the order of the targets, so none always has the first turn.
                        var order = repetition % 2 == 0 ? Enumerable.Range(0, mixTargets.Length).ToArray() : Enumerable.Range(0, mixTargets.Length).Reverse().ToArray();
                        var results = await LoadGenerator.RunRoundsAsync(
                            order.Select(i => generators[i]).ToArray(), order.Select(i => mixTargets[i]).ToArray(),
                            profile.Connections, profile.RatePerSecond, options.Warmup, options.Duration, block, block / 10,
                            order.Select(i => hopProbes[i]).ToArray(), shared, cancellationToken);
                        foreach (int i in Enumerable.Range(0, mixTargets.Length))
                        {
                            var result = results[Array.IndexOf(order, i)];
                            rows.Add(new Row(mix, mixTargets[i].Label, result) { Target = mixTargets[i], Repetition = repetition });
                            Program.Progress(string.Create(CultureInfo.InvariantCulture,
                                $"{profile.Name} {mix} {result.Label}: {result.RequestsPerSecond:0} req/s, p50 {result.Latency.P50:0.000} ms, p99 {result.Latency.P99:0.000} ms, hop CPU {Report.CpuPerRequest(result, Report.Hop):0} µs/request, errors {result.Errors}"));
                        }

                        fake.EnsureRunning();
                        foreach (var hop in hops)
                        {
                            hop.Process.EnsureRunning();
                        }
                    }
                }

                var facts = hops.Select(static h =>
                {
                    var (now, peak) = h.Process.Memory();
                    return new HopFacts(h.Name, h.StartupMs, h.IdleRss, peak, now);
                }).ToList();
                return (rows, facts);
            }
            finally
            {
                foreach (var hop in hops)
                {
                    hop.Process.Dispose();
                }
            }
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

    /// <summary>Mints <paramref name="count"/> end-user keys, each for its own end user with a spend cap, through <c>POST /v1/keys</c>.</summary>
    internal static async Task<(KeyRing? OpenAI, KeyRing? Anthropic)> MintKeysAsync(Uri gateway, string masterKey, int count, CancellationToken cancellationToken)
    {
        if (count == 0)
        {
            return (null, null);
        }

        var secrets = new string[count];
        using var client = new HttpClient { BaseAddress = gateway, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", masterKey);
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (i, token) =>
        {
            string body = Invariant($"{{\"name\":\"bench-{i}\",\"end_user_id\":\"bench-user-{i}\",\"max_spend_usd\":1000}}");
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await client.PostAsync(new Uri("/v1/keys", UriKind.Relative), content, token);
            string answer = await response.Content.ReadAsStringAsync(token);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"POST /v1/keys answered {(int)response.StatusCode}: {answer}");
            }

            using var json = JsonDocument.Parse(answer);
            secrets[i] = json.RootElement.GetProperty("secret").GetString()!;
        });

        return (new KeyRing("Authorization", secrets.Select(static s => "Bearer " + s).ToArray()), new KeyRing("x-api-key", secrets));
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
