using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;

namespace Qlaud.LoadBench;

/// <summary>Which storage providers a <c>--storage</c> run measures.</summary>
[Flags]
internal enum StorageChoice
{
    None = 0,
    Sqlite = 1,
    Postgres = 2,
    Both = Sqlite | Postgres,
}

/// <summary>
/// One gateway set-up of a <c>--storage</c> run: one or more <c>Qlaud.Server</c> processes on one database, metering on or off.
/// </summary>
/// <param name="Label">The row label (<c>sqlite, 1000 keys</c>, <c>postgres ×3 nodes, 1000 keys</c>, …).</param>
/// <param name="Provider"><c>sqlite</c> or <c>postgres</c>.</param>
/// <param name="Metering">Whether <c>Qlaud:Metering:Enabled</c> is on.</param>
/// <param name="Database">The PostgreSQL database name, or null for SQLite.</param>
/// <param name="NodeCount">How many <c>Qlaud.Server</c> processes share the database.</param>
internal sealed record Deployment(string Label, string Provider, bool Metering, string? Database, int NodeCount = 1)
{
    public List<ChildProcess> Nodes { get; } = [];

    public List<Uri> Bases { get; } = [];

    /// <summary>Every request sent to this set-up over the whole run (probes and pre-warm included), by outcome.</summary>
    public RequestTally Tally { get; } = new();

    public TimeSpan CpuTime()
    {
        var sum = TimeSpan.Zero;
        foreach (var node in Nodes)
        {
            sum += node.CpuTime;
        }

        return sum;
    }
}

/// <summary>What the gateway's ledger held after a run, against what the load generator was answered.</summary>
/// <param name="Answered">Requests answered 200 with a complete answer, over the whole run so far.</param>
/// <param name="Failed">Requests that failed, over the whole run so far.</param>
/// <param name="LedgerRequests">Usage entries in the database (<c>GET /v1/usage</c>, <c>totals.requests</c>).</param>
/// <param name="LedgerCostMicros">Their cost (<c>totals.cost_micros</c>).</param>
internal sealed record LedgerCheck(Mix Mix, int Repetition, string Label, long Answered, long Failed, long LedgerRequests, long LedgerCostMicros);

/// <summary>What a <c>--storage</c> run measured besides the rows: the set-ups, the ledger checks and the machine's load.</summary>
internal sealed record StorageFacts(IReadOnlyList<Deployment> Deployments, IReadOnlyList<LedgerCheck> Checks,
    IReadOnlyList<(Mix Mix, int Repetition, string Before, string After)> LoadAverages, string? PostgresVersion);

/// <summary>
/// <c>--storage sqlite|postgres|both</c> (with <c>--nodes N</c>): metering on against off on SQLite and on PostgreSQL, and N
/// gateway processes on one PostgreSQL database, every set-up driven with many capped end-user keys in one interleaved run per
/// mix (turns of <c>--interleave</c>), so they share the same stretch of the machine's life. Reports each set-up's gateway CPU
/// per request (summed over its processes) and its database's (the PostgreSQL backends serving it), and checks after every
/// run that the metered set-ups' ledgers hold exactly the requests that were answered.
/// </summary>
/// <remarks>
/// The N nodes have no load balancer process in front: the load generator sends each request to the next node in turn on the
/// same connections and schedule. PostgreSQL runs as its own throwaway server (<see cref="ThrowawayPostgres"/>), one database
/// per set-up.
/// </remarks>
internal static class StorageScenario
{
    /// <summary>Seconds this scenario may take per profile, for the watchdog.</summary>
    public static TimeSpan Budget(LoadOptions options)
    {
        int targets = 1 + (2 * ((options.Storage.HasFlag(StorageChoice.Sqlite) ? 1 : 0) + (options.Storage.HasFlag(StorageChoice.Postgres) ? 1 : 0))) + (options.Nodes > 1 ? 1 : 0);
        var perMix = targets * (options.Warmup + options.Duration + (2 * options.Interleave) + TimeSpan.FromSeconds(2)) + TimeSpan.FromSeconds(30);
        return TimeSpan.FromSeconds(240) + options.Prewarm + (options.Mixes.Count * options.Repeat * perMix);
    }

    /// <summary>The file name part after the profile's name.</summary>
    public static string Suffix(Profile profile, LoadOptions options)
        => (options.Storage == StorageChoice.Sqlite ? "sqlite" : "postgres") + (HasNodesRow(profile, options) ? Invariant($"-{options.Nodes}nodes") : "");

    private static bool HasNodesRow(Profile profile, LoadOptions options)
        => options.Nodes > 1 && options.Storage.HasFlag(StorageChoice.Postgres) && profile.Connections >= options.Nodes;

    public static async Task<(List<Row> Rows, StorageFacts Facts)> RunAsync(Profile profile, LoadOptions options, string fakeDll, string gatewayDll,
        CancellationToken cancellationToken)
    {
        var workDirectory = Directory.CreateTempSubdirectory("qlaud-loadbench-");
        ThrowawayPostgres? postgres = null;
        var deployments = new List<Deployment>();
        try
        {
            var startTimeout = TimeSpan.FromSeconds(90);
            int fakePort = Program.FreePort();
            string masterKey = "qlk_live_" + RandomNumberGenerator.GetString("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 43);
            Program.Progress($"{profile.Name}: starting the fake provider on port {fakePort}");
            using var fake = await ChildProcess.StartAsync("the fake provider", fakeDll,
                [
                    "--urls", $"http://{Program.Loopback}:{fakePort}",
                    "--latency-ms", Invariant($"{profile.UpstreamLatencyMs}"),
                    "--chunk-size", Invariant($"{options.ChunkSize}"),
                    "--chunk-delay-ms", Invariant($"{profile.ChunkDelayMs}"),
                    "--text", RequestBodies.AnswerText(options.AnswerChars),
                ],
                new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = "Production" },
                workDirectory.FullName, "fake-provider listening on", startTimeout, cancellationToken);
            var fakeBase = new Uri($"http://{Program.Loopback}:{fakePort}");

            if (options.Storage.HasFlag(StorageChoice.Postgres))
            {
                postgres = await ThrowawayPostgres.StartAsync(cancellationToken);
                Program.Progress($"{profile.Name}: {postgres.Version} on port {postgres.Port}");
            }

            string keys = options.Keys > 0 ? Invariant($", {options.Keys} keys") : ", master key";
            if (options.Storage.HasFlag(StorageChoice.Sqlite))
            {
                deployments.Add(new Deployment("sqlite" + keys, "sqlite", true, null));
                deployments.Add(new Deployment("sqlite" + keys + Report.MeteringOffSuffix, "sqlite", false, null));
            }

            if (postgres is not null)
            {
                deployments.Add(new Deployment("postgres" + keys, "postgres", true, "qlaud_on"));
                deployments.Add(new Deployment("postgres" + keys + Report.MeteringOffSuffix, "postgres", false, "qlaud_off"));
                if (HasNodesRow(profile, options))
                {
                    deployments.Add(new Deployment(Invariant($"postgres ×{options.Nodes} nodes{keys}"), "postgres", true, "qlaud_nodes", options.Nodes));
                }
            }

            foreach (var deployment in deployments)
            {
                var environment = Program.GatewayEnvironment(options, masterKey, fakePort);
                if (!deployment.Metering)
                {
                    environment["Qlaud__Metering__Enabled"] = "false";
                }

                if (deployment.Database is { } database)
                {
                    environment["Qlaud__Storage__Provider"] = "postgres";
                    environment["Qlaud__Storage__ConnectionString"] = await postgres!.CreateDatabaseAsync(database, cancellationToken);
                }
                else
                {
                    environment["Qlaud__Storage__ConnectionString"] = deployment.Metering ? "Data Source=qlaud-sqlite-on.db" : "Data Source=qlaud-sqlite-off.db";
                }

                for (int n = 0; n < deployment.NodeCount; n++)
                {
                    int port = Program.FreePort();
                    string name = deployment.NodeCount > 1 ? Invariant($"Qlaud.Server ({deployment.Label}, node {n + 1})") : $"Qlaud.Server ({deployment.Label})";
                    deployment.Nodes.Add(await ChildProcess.StartAsync(name, gatewayDll, ["--urls", $"http://{Program.Loopback}:{port}"], environment,
                        workDirectory.FullName, "Qlaud gateway listening on", startTimeout, cancellationToken));
                    deployment.Bases.Add(new Uri($"http://{Program.Loopback}:{port}"));
                    Program.Progress($"{profile.Name}: {name} on port {port}");
                }
            }

            // Keys are minted through the first node of each set-up; the other nodes of a set-up find them in the shared database.
            var rings = new Dictionary<Deployment, (KeyRing? OpenAI, KeyRing? Anthropic)>();
            foreach (var deployment in deployments)
            {
                rings[deployment] = await BaselineScenario.MintKeysAsync(deployment.Bases[0], masterKey, options.Keys, cancellationToken);
            }

            if (options.Keys > 0)
            {
                Program.Progress($"{profile.Name}: minted {options.Keys} capped end-user keys on each of the {deployments.Count} set-ups");
            }

            KeyValuePair<string, string>[] fakeAuth = [new("Authorization", "Bearer x")];
            KeyValuePair<string, string>[] openAIMaster = options.Keys > 0 ? [] : [new("Authorization", "Bearer " + masterKey)];
            KeyValuePair<string, string>[] anthropicMaster = options.Keys > 0 ? [new("anthropic-version", "2023-06-01")] : [new("x-api-key", masterKey), new("anthropic-version", "2023-06-01")];
            byte[] nonStream = RequestBodies.OpenAI(stream: false);
            byte[] stream = RequestBodies.OpenAI(stream: true);
            byte[] anthropic = RequestBodies.Anthropic();

            LoadTarget Through(Deployment deployment, Mix mix)
            {
                var (openAIKeys, anthropicKeys) = rings[deployment];
                string path = mix == Mix.Translate ? "/v1/messages" : "/v1/chat/completions";
                var target = mix == Mix.Translate
                    ? new LoadTarget(deployment.Label, new Uri(deployment.Bases[0], path), anthropic, anthropicMaster, true, TokenDialect.Anthropic) { Keys = anthropicKeys }
                    : new LoadTarget(deployment.Label, new Uri(deployment.Bases[0], path), mix == Mix.Stream ? stream : nonStream, openAIMaster, mix == Mix.Stream,
                        mix == Mix.Stream ? TokenDialect.OpenAI : TokenDialect.None) { Keys = openAIKeys };
                return target with
                {
                    Tally = deployment.Tally,
                    Nodes = deployment.Bases.Count > 1 ? new NodeRing([.. deployment.Bases.Select(b => new Uri(b, path))]) : null,
                };
            }

            var targets = new Dictionary<Mix, (LoadTarget Target, Deployment? Deployment)[]>();
            foreach (var mix in options.Mixes)
            {
                bool streamed = mix != Mix.NonStream;
                var direct = new LoadTarget(Report.Direct, new Uri(fakeBase, "/v1/chat/completions"), streamed ? stream : nonStream, fakeAuth, streamed,
                    streamed ? TokenDialect.OpenAI : TokenDialect.None);
                targets[mix] = [(direct, null), .. deployments.Select(d => (Through(d, mix), (Deployment?)d))];
            }

            foreach (var mix in options.Mixes)
            {
                foreach (var (target, _) in targets[mix])
                {
                    if (await LoadGenerator.ProbeAsync(target, cancellationToken) is { } problem)
                    {
                        throw new InvalidOperationException($"{mix} {target.Label}: {problem}");
                    }
                }
            }

            var self = Process.GetCurrentProcess();
            var shared = new List<(string Name, Func<TimeSpan> Cpu)>
            {
                ("fake", () => fake.CpuTime),
                ("loadgen", () =>
                {
                    self.Refresh();
                    return self.TotalProcessorTime;
                }),
                ("servers", () =>
                {
                    var sum = TimeSpan.Zero;
                    foreach (var deployment in deployments)
                    {
                        sum += deployment.CpuTime();
                    }

                    return sum;
                }),
            };
            if (postgres is not null)
            {
                shared.Add(("postgres", () => postgres.CpuTime(null)));
            }

            shared.Add(("machine", Machine.BusyTime));

            (string Name, Func<TimeSpan> Cpu)[] ProbesOf(Deployment? deployment) => deployment is null
                ? []
                : deployment.Database is { } database
                    ? [(Report.Hop, deployment.CpuTime), (Database, () => postgres!.CpuTime(database))]
                    : [(Report.Hop, deployment.CpuTime)];

            if (options.Prewarm > TimeSpan.Zero)
            {
                var warm = targets.Values.SelectMany(static t => t).Select(static t => t.Target).Distinct().ToList();
                Program.Progress($"{profile.Name}: pre-warming every target for {options.Prewarm.TotalSeconds:0} s");
                await LoadGenerator.WarmAsync(warm, Math.Max(1, profile.Connections / warm.Count), options.Prewarm, cancellationToken);
            }

            var rows = new List<Row>();
            var checks = new List<LedgerCheck>();
            var loads = new List<(Mix, int, string, string)>();
            var block = options.Interleave > TimeSpan.Zero ? options.Interleave : TimeSpan.FromSeconds(1);
            foreach (var mix in options.Mixes)
            {
                var mixTargets = targets[mix];
                var generators = mixTargets.Select(static _ => new LoadGenerator(capacity: 1 << 20)).ToArray();
                var probes = mixTargets.Select(t => ProbesOf(t.Deployment)).ToArray();
                for (int repetition = 0; repetition < options.Repeat; repetition++)
                {
                    // Repeated runs reverse the order of the targets, so none always has the first turn.
                    var order = repetition % 2 == 0 ? Enumerable.Range(0, mixTargets.Length).ToArray() : Enumerable.Range(0, mixTargets.Length).Reverse().ToArray();
                    string loadBefore = Machine.LoadAverage();
                    var results = await LoadGenerator.RunRoundsAsync(
                        order.Select(i => generators[i]).ToArray(), order.Select(i => mixTargets[i].Target).ToArray(),
                        profile.Connections, profile.RatePerSecond, options.Warmup, options.Duration, block, block / 10,
                        order.Select(i => probes[i]).ToArray(), shared, cancellationToken);
                    loads.Add((mix, repetition, loadBefore, Machine.LoadAverage()));
                    foreach (int i in Enumerable.Range(0, mixTargets.Length))
                    {
                        var result = results[Array.IndexOf(order, i)];
                        rows.Add(new Row(mix, mixTargets[i].Target.Label, result) { Target = mixTargets[i].Target, Repetition = repetition });
                        Program.Progress(string.Create(CultureInfo.InvariantCulture,
                            $"{profile.Name} {mix} {result.Label}: {result.RequestsPerSecond:0} req/s, p50 {result.Latency.P50:0.000} ms, p99 {result.Latency.P99:0.000} ms, gateway CPU {Report.CpuPerRequest(result, Report.Hop):0} µs/request, database CPU {Report.CpuPerRequest(result, Database):0} µs/request, errors {result.Errors}"));
                    }

                    fake.EnsureRunning();
                    foreach (var deployment in deployments)
                    {
                        foreach (var node in deployment.Nodes)
                        {
                            node.EnsureRunning();
                        }

                        var check = await CheckLedgerAsync(deployment, masterKey, mix, repetition, cancellationToken);
                        checks.Add(check);
                        Program.Progress($"{profile.Name} {mix} {deployment.Label}: {check.Answered} answered, {check.Failed} failed, ledger {check.LedgerRequests} requests, {check.LedgerCostMicros} micro-USD");
                    }
                }
            }

            return (rows, new StorageFacts(deployments, checks, loads, postgres?.Version));
        }
        finally
        {
            foreach (var deployment in deployments)
            {
                foreach (var node in deployment.Nodes)
                {
                    node.Dispose();
                }
            }

            postgres?.Dispose();
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

    /// <summary>The CPU probe of a set-up's PostgreSQL backends (its own database), per request like <see cref="Report.Hop"/>.</summary>
    public const string Database = "db";

    /// <summary>
    /// Reads the ledger's totals through the set-up's first node (<c>GET /v1/usage</c>, from the database, so it covers every
    /// node) and compares them with what the set-up answered. With metering on, every answered request must be in the ledger
    /// (waiting up to 20 s for the writer) and no more than were sent, at a cost above zero; with metering off, none. A
    /// set-up that fails the check stops the run: a configuration that does not meter cannot pass for a fast one.
    /// </summary>
    private static async Task<LedgerCheck> CheckLedgerAsync(Deployment deployment, string masterKey, Mix mix, int repetition, CancellationToken cancellationToken)
    {
        using var client = new HttpClient { BaseAddress = deployment.Bases[0], Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", masterKey);
        var deadline = Stopwatch.GetTimestamp() + (20 * Stopwatch.Frequency);
        while (true)
        {
            long answered = deployment.Tally.AnsweredCount, failed = deployment.Tally.FailedCount;
            using var response = await client.GetAsync(new Uri("/v1/usage", UriKind.Relative), cancellationToken);
            string body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"{deployment.Label}: GET /v1/usage answered {(int)response.StatusCode}: {body}");
            }

            using var json = JsonDocument.Parse(body);
            var totals = json.RootElement.GetProperty("totals");
            var check = new LedgerCheck(mix, repetition, deployment.Label, answered, failed, totals.GetProperty("requests").GetInt64(), totals.GetProperty("cost_micros").GetInt64());
            bool consistent = deployment.Metering
                ? check.LedgerRequests >= answered && check.LedgerRequests <= answered + failed && check.LedgerCostMicros > 0
                : check.LedgerRequests == 0;
            if (consistent)
            {
                return check;
            }

            if (Stopwatch.GetTimestamp() > deadline || check.LedgerRequests > answered + failed)
            {
                throw new InvalidOperationException(deployment.Metering
                    ? $"{deployment.Label}: the ledger holds {check.LedgerRequests} requests costing {check.LedgerCostMicros} micro-USD, but {answered} were answered and {failed} failed; its numbers are discarded."
                    : $"{deployment.Label}: metering is off, yet the ledger holds {check.LedgerRequests} requests; its numbers are discarded.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
