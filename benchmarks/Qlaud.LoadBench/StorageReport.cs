using System.Text;

namespace Qlaud.LoadBench;

/// <summary>
/// Renders a <c>--storage</c> run: every set-up side by side, what metering costs on each provider, PostgreSQL against
/// SQLite, N nodes against one, and the ledger checks.
/// </summary>
internal static class StorageReport
{
    public static string Render(Profile profile, LoadOptions options, IReadOnlyList<Row> rows, StorageFacts facts, string command, string machine, string? commit)
    {
        var md = new StringBuilder();
        string providers = options.Storage switch
        {
            StorageChoice.Sqlite => "SQLite",
            StorageChoice.Postgres => "PostgreSQL",
            _ => "SQLite and PostgreSQL",
        };
        Report.Header(md, profile, options, command, machine, commit, " — storage: " + providers,
            "The load generator, the fake provider, every gateway process and PostgreSQL share these cores; the set-ups not being driven sit idle (their background work, such as lease renewals, still runs and is charged to them).");
        md.AppendLine(Report.Invariant($"Every target of a mix is driven in one run, in turns of {options.Interleave.TotalSeconds:0.#} s (A B C … then … C B A, the first tenth of each turn unmeasured) until each had {options.Duration.TotalSeconds:0} s; {options.Repeat} run(s) per mix, the order of the targets reversed in every other run. Each Qlaud set-up is driven with {(options.Keys > 0 ? Report.Invariant($"{options.Keys} end-user keys (each with a $1000 cap, its own end user), one per request in turn") : "the master key")}."));
        if (facts.PostgresVersion is { } version)
        {
            md.AppendLine();
            md.AppendLine(Report.Invariant($"PostgreSQL: {version}, a throwaway server started by the benchmark on a loopback port (`initdb`, `synchronous_commit=off`, `fsync` on, otherwise defaults), one database per set-up; the gateways connect over TCP with Npgsql's default pool. Budget leases at their defaults (`LeaseSliceUsd` 1, `LeaseSeconds` 60)."));
        }

        foreach (var deployment in facts.Deployments.Where(static d => d.Nodes.Count > 1))
        {
            md.AppendLine();
            md.AppendLine(Report.Invariant($"`{deployment.Label}`: {deployment.Nodes.Count} `Qlaud.Server` processes on one database. There is no load balancer process: the load generator sends each request to the next node in turn, over the same connections and schedule as every other target (so {profile.Connections} connections in all, spread over the nodes), and key i of request i goes to node i mod {deployment.Nodes.Count}, so every key is served, and leased, by every node."));
        }

        md.AppendLine();
        md.AppendLine("| mix | path | run | req/s | p50 ms | p99 ms | TTFT p99 ms | errors | gateway CPU µs/request | database CPU µs/request | CPU fake | CPU loadgen | CPU postgres | CPU other |");
        md.AppendLine("| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
        foreach (var row in rows)
        {
            var r = row.Result!;
            md.AppendLine(Report.Invariant($"| {Report.Name(row.Mix)} | {row.Path} | {row.Repetition + 1} | {r.RequestsPerSecond:0} | {Report.Ms(r.Latency.P50)} | {Report.Ms(r.Latency.P99)} | {Report.Ms(r.TimeToFirstToken.P99)} | {r.Errors} | {Us(Report.CpuPerRequest(r, Report.Hop))} | {Us(Report.CpuPerRequest(r, StorageScenario.Database))} | {Report.Cpu(r, "fake")} | {Report.Cpu(r, "loadgen")} | {Report.Cpu(r, "postgres")} | {Other(r)} |"));
        }

        md.AppendLine();
        md.AppendLine(options.Repeat > 1
            ? Report.Invariant($"Each set-up against direct (the translate rows against the direct OpenAI stream); each number the median over the {options.Repeat} runs of the difference within a run:")
            : "Each set-up against direct (the translate rows against the direct OpenAI stream), within the same run:");
        md.AppendLine();
        md.AppendLine("| mix | path | req/s | vs direct | added p50 ms | added p99 ms | gateway CPU µs/request | database CPU µs/request | gateway + database µs/request |");
        md.AppendLine("| --- | --- | --: | --: | --: | --: | --: | --: | --: |");
        var mixes = rows.Select(static r => r.Mix).Distinct().ToList();
        foreach (var mix in mixes)
        {
            foreach (var path in rows.Where(r => r.Mix == mix && r.Path != Report.Direct).Select(static r => r.Path).Distinct())
            {
                double M(Func<RunResult, RunResult, double> f) => Median(rows, mix, path, Report.Direct, f);
                double gateway = M(static (h, _) => Report.CpuPerRequest(h, Report.Hop));
                double database = M(static (h, _) => Report.CpuPerRequest(h, StorageScenario.Database));
                md.AppendLine(Report.Invariant($"| {Report.Name(mix)} | {path} | {M(static (h, _) => h.RequestsPerSecond):0} | {M(static (h, d) => h.RequestsPerSecond / d.RequestsPerSecond):0.00} | {Report.Delta(M(static (h, d) => h.Latency.P50 - d.Latency.P50), 0)} | {Report.Delta(M(static (h, d) => h.Latency.P99 - d.Latency.P99), 0)} | {Us(gateway)} | {Us(database)} | {Us(Total(gateway, database))} |"));
            }
        }

        Comparisons(md, rows, facts, mixes, options);
        Ledger(md, facts);

        md.AppendLine();
        md.AppendLine("The machine's load average (1, 5, 15 min) at the start and at the end of each run:");
        md.AppendLine();
        md.AppendLine("| mix | run | load average before | after |");
        md.AppendLine("| --- | --: | --- | --- |");
        foreach (var (mix, repetition, before, after) in facts.LoadAverages)
        {
            md.AppendLine(Report.Invariant($"| {Report.Name(mix)} | {repetition + 1} | {before} | {after} |"));
        }

        var errors = rows.Where(static r => r.Result is { FirstError: not null }).ToList();
        if (errors.Count > 0)
        {
            md.AppendLine();
            foreach (var row in errors)
            {
                md.AppendLine(Report.Invariant($"- First error, {Report.Name(row.Mix)} {row.Path} run {row.Repetition + 1}: {Report.Escape(row.Result!.FirstError)}"));
            }
        }

        md.AppendLine();
        md.AppendLine("Gateway CPU µs/request: the CPU of the set-up's `Qlaud.Server` process(es), summed, over the whole measured stretch (its idle turns included) per request it was sent in it. Database CPU µs/request: the same for the PostgreSQL backends connected to the set-up's database (their process titles name it); the server's shared processes (WAL writer, checkpointer, autovacuum) are in `CPU postgres` only. On SQLite the database work runs inside the gateway process, so compare gateway + database. CPU columns are % of one core over the run (200 % = both cores); CPU other is everything else on the machine (noise).");
        return md.ToString();
    }

    /// <summary>Metering on − off per provider, PostgreSQL against SQLite, and N nodes against one.</summary>
    private static void Comparisons(StringBuilder md, IReadOnlyList<Row> rows, StorageFacts facts, List<Mix> mixes, LoadOptions options)
    {
        var on = facts.Deployments.Where(static d => d.Metering && d.Nodes.Count == 1).ToList();
        var lines = new List<string>();
        foreach (var mix in mixes)
        {
            foreach (var deployment in on)
            {
                var off = facts.Deployments.FirstOrDefault(d => !d.Metering && d.Provider == deployment.Provider);
                if (off is not null)
                {
                    lines.Add(Pair(rows, mix, deployment.Provider + ": metering on − off", deployment.Label, off.Label));
                }
            }

            var sqlite = on.FirstOrDefault(static d => d.Provider == "sqlite");
            var postgres = on.FirstOrDefault(static d => d.Provider == "postgres");
            if (sqlite is not null && postgres is not null)
            {
                lines.Add(Pair(rows, mix, "metering on: postgres − sqlite", postgres.Label, sqlite.Label));
                var sqliteOff = facts.Deployments.FirstOrDefault(static d => !d.Metering && d.Provider == "sqlite");
                var postgresOff = facts.Deployments.FirstOrDefault(static d => !d.Metering && d.Provider == "postgres");
                if (sqliteOff is not null && postgresOff is not null)
                {
                    lines.Add(Pair(rows, mix, "metering off: postgres − sqlite", postgresOff.Label, sqliteOff.Label));
                }
            }

            foreach (var nodes in facts.Deployments.Where(static d => d.Nodes.Count > 1))
            {
                if (postgres is not null)
                {
                    lines.Add(Pair(rows, mix, Report.Invariant($"postgres: {nodes.Nodes.Count} nodes − 1 node"), nodes.Label, postgres.Label));
                }
            }
        }

        lines.RemoveAll(static l => l.Length == 0);
        if (lines.Count == 0)
        {
            return;
        }

        md.AppendLine();
        md.AppendLine(Report.Invariant($"Set-up against set-up, A − B (medians over the {options.Repeat} run(s) of the difference within a run; CPU is gateway + database per request, on SQLite the gateway alone):"));
        md.AppendLine();
        md.AppendLine("| mix | comparison | req/s A / B | p50 A − B ms | p99 A − B ms | CPU µs/request A → B | CPU A − B µs/request |");
        md.AppendLine("| --- | --- | --: | --: | --: | --: | --: |");
        foreach (var line in lines)
        {
            md.AppendLine(line);
        }
    }

    private static string Pair(IReadOnlyList<Row> rows, Mix mix, string name, string a, string b)
    {
        if (!rows.Any(r => r.Mix == mix && r.Path == a) || !rows.Any(r => r.Mix == mix && r.Path == b))
        {
            return "";
        }

        static double Cpu(RunResult r) => Total(Report.CpuPerRequest(r, Report.Hop), Report.CpuPerRequest(r, StorageScenario.Database));
        double M(Func<RunResult, RunResult, double> f) => Median(rows, mix, a, b, f);
        return Report.Invariant($"| {Report.Name(mix)} | {name} | {M(static (x, y) => x.RequestsPerSecond / y.RequestsPerSecond):0.00} | {Report.Delta(M(static (x, y) => x.Latency.P50 - y.Latency.P50), 0)} | {Report.Delta(M(static (x, y) => x.Latency.P99 - y.Latency.P99), 0)} | {Us(M(static (x, _) => Cpu(x)))} → {Us(M(static (_, y) => Cpu(y)))} | {SignedUs(M(static (x, y) => Cpu(x) - Cpu(y)))} |");
    }

    private static void Ledger(StringBuilder md, StorageFacts facts)
    {
        md.AppendLine();
        md.AppendLine("The ledger after each run (`GET /v1/usage` through the set-up's first node, which reads the database and so covers every node), against every request the load generator sent the set-up since it started (probes, pre-warm and unmeasured turns included). A metered set-up passes when every answered request is in the ledger, no more than were sent are, and the cost is above zero; a set-up without metering when its ledger is empty. A failed check stops the run.");
        md.AppendLine();
        md.AppendLine("| mix | run | set-up | answered 200 | failed | ledger requests | ledger cost USD | check |");
        md.AppendLine("| --- | --: | --- | --: | --: | --: | --: | --- |");
        foreach (var check in facts.Checks)
        {
            md.AppendLine(Report.Invariant($"| {Report.Name(check.Mix)} | {check.Repetition + 1} | {check.Label} | {check.Answered} | {check.Failed} | {check.LedgerRequests} | {check.LedgerCostMicros / 1e6:0.000000} | passed |"));
        }
    }

    /// <summary>The median over the runs of <paramref name="f"/>(a's result, b's result) within each run.</summary>
    private static double Median(IReadOnlyList<Row> rows, Mix mix, string a, string b, Func<RunResult, RunResult, double> f)
    {
        var values = rows.Where(r => r.Mix == mix && r.Path == a)
            .Select(r => (A: r.Result!, B: rows.FirstOrDefault(o => o.Mix == mix && o.Path == b && o.Repetition == r.Repetition)?.Result))
            .Where(static p => p.B is not null)
            .Select(p => f(p.A, p.B!))
            .ToArray();
        return values.Length == 0 ? double.NaN : Report.Median(values);
    }

    /// <summary>Gateway plus database CPU; a set-up without a database probe (SQLite) counts the gateway alone.</summary>
    private static double Total(double gateway, double database) => double.IsNaN(database) ? gateway : gateway + database;

    private static string Us(double value) => double.IsNaN(value) ? "–" : value.ToString("0", System.Globalization.CultureInfo.InvariantCulture);

    private static string SignedUs(double value) => double.IsNaN(value) ? "–" : Math.Round(value).ToString("+0;-0;0", System.Globalization.CultureInfo.InvariantCulture);

    private static string Other(RunResult result)
    {
        if (!result.CpuPercent.TryGetValue("machine", out var machine) || machine <= 0)
        {
            return "–";
        }

        double ours = 0;
        foreach (var name in (ReadOnlySpan<string>)["servers", "fake", "loadgen", "postgres"])
        {
            ours += result.CpuPercent.TryGetValue(name, out var cpu) ? cpu : 0;
        }

        return Math.Max(0, machine - ours).ToString("0", System.Globalization.CultureInfo.InvariantCulture) + " %";
    }
}
