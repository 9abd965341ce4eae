using System.Globalization;
using System.Text;

namespace Qlaud.LoadBench;

/// <summary>One row of the results: a mix against a path, or why it was skipped.</summary>
internal sealed record Row(Mix Mix, string Path, RunResult? Result, string? Skipped = null)
{
    /// <summary>What was driven (so one direct run can serve as the baseline of two mixes).</summary>
    public LoadTarget? Target { get; init; }

    /// <summary>Driven through the gateway with metering off (<c>--compare-metering</c>).</summary>
    public bool MeteringOff { get; init; }

    /// <summary>Which of the <c>--repeat</c> runs this row comes from (<c>--baselines</c>).</summary>
    public int Repetition { get; init; }
}

/// <summary>Renders results as GitHub markdown.</summary>
internal static class Report
{
    /// <summary>Throughput through Qlaud must be at least this share of direct (64 connections, 20 ms upstream).</summary>
    public const double ThroughputTarget = 0.9;

    /// <summary>Qlaud may add at most this much p99 latency, in ms (1 connection, 0 ms upstream).</summary>
    public const double AddedP99TargetMs = 0.5;

    public static string Render(Profile profile, LoadOptions options, IReadOnlyList<Row> rows, string command, string machine, string? commit)
    {
        var md = new StringBuilder();
        Header(md, profile, options, command, machine, commit, "", "The load generator, the gateway and the fake provider share these cores.");
        md.AppendLine("| mix | path | req/s | p50 ms | p99 ms | TTFT p50 ms | TTFT p99 ms | gap p50 ms | gap p99 ms | errors | CPU qlaud | CPU fake | CPU loadgen | CPU other |");
        md.AppendLine("| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
        foreach (var row in rows)
        {
            if (row.Result is not { } r)
            {
                md.AppendLine(Invariant($"| {Name(row.Mix)} | {row.Path} | skipped: {Escape(row.Skipped)} | | | | | | | | | | | |"));
                continue;
            }

            md.AppendLine(Invariant($"| {Name(row.Mix)} | {row.Path} | {r.RequestsPerSecond:0} | {Ms(r.Latency.P50)} | {Ms(r.Latency.P99)} | {Ms(r.TimeToFirstToken.P50)} | {Ms(r.TimeToFirstToken.P99)} | {Ms(r.Gap.P50)} | {Ms(r.Gap.P99)} | {r.Errors} | {Cpu(r, "qlaud")} | {Cpu(r, "fake")} | {Cpu(r, "loadgen")} | {Other(r)} |"));
        }

        md.AppendLine();
        md.AppendLine("Overhead of the hop through Qlaud (Qlaud minus direct; the translate row compares with the direct OpenAI stream):");
        md.AppendLine();
        md.AppendLine("| mix | path | throughput qlaud/direct | added p50 ms | added p99 ms | added TTFT p50 ms | added TTFT p99 ms | added gap p50 ms | added gap p99 ms | qlaud CPU µs/request |");
        md.AppendLine("| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: |");
        var verdicts = new List<string>();
        foreach (var row in rows)
        {
            if (row.Path == Direct || row.Result is not { } qlaud)
            {
                continue;
            }

            var direct = DirectFor(rows, row.Mix);
            if (direct is null)
            {
                continue;
            }

            double ratio = qlaud.RequestsPerSecond / direct.RequestsPerSecond;
            double addedP99 = qlaud.Latency.P99 - direct.Latency.P99;
            double cpuPerRequest = CpuPerRequest(qlaud);
            md.AppendLine(Invariant($"| {Name(row.Mix)} | {row.Path} | {ratio:0.00} | {Delta(qlaud.Latency.P50, direct.Latency.P50)} | {Delta(qlaud.Latency.P99, direct.Latency.P99)} | {Delta(qlaud.TimeToFirstToken.P50, direct.TimeToFirstToken.P50)} | {Delta(qlaud.TimeToFirstToken.P99, direct.TimeToFirstToken.P99)} | {Delta(qlaud.Gap.P50, direct.Gap.P50)} | {Delta(qlaud.Gap.P99, direct.Gap.P99)} | {cpuPerRequest:0} |"));

            if (profile == Profile.Concurrent && row.Mix != Mix.Translate)
            {
                verdicts.Add(Invariant($"- Target throughput ≥ {ThroughputTarget:0.0}× direct ({Name(row.Mix)}, {row.Path}): {ratio:0.00}× — **{(ratio >= ThroughputTarget ? "met" : "missed")}**"));
            }
            else if (profile == Profile.Serial && row.Mix != Mix.Translate)
            {
                verdicts.Add(Invariant($"- Target added p99 < {AddedP99TargetMs} ms ({Name(row.Mix)}, {row.Path}): {addedP99:+0.000;-0.000} ms — **{(addedP99 < AddedP99TargetMs ? "met" : "missed")}**"));
            }
        }

        if (verdicts.Count > 0)
        {
            md.AppendLine();
            foreach (var verdict in verdicts)
            {
                md.AppendLine(verdict);
            }
        }

        var errors = rows.Where(static r => r.Result is { FirstError: not null }).ToList();
        if (errors.Count > 0)
        {
            md.AppendLine();
            foreach (var row in errors)
            {
                md.AppendLine(Invariant($"- First error, {Name(row.Mix)} {row.Path}: {Escape(row.Result!.FirstError)}"));
            }
        }

        Metering(md, rows, options);
        md.AppendLine();
        md.AppendLine("CPU columns are % of one core over the measured window (200 % = both cores); CPU other is everything else on the machine (noise). TTFT: request sent → first event carrying text. Gap: time between consecutive text events of one answer.");
        return md.ToString();
    }

    /// <summary>Metering on against off (<c>--compare-metering</c>): each pair of runs, and the median of the pairs.</summary>
    private static void Metering(StringBuilder md, IReadOnlyList<Row> rows, LoadOptions options)
    {
        if (!rows.Any(static r => r.MeteringOff))
        {
            return;
        }

        string method = options.Interleave > TimeSpan.Zero
            ? Invariant($"pair by pair; each pair is one run in which the two gateways took turns of {options.Interleave.TotalSeconds:0.#} s (A B B A …, the first {options.Interleave.TotalMilliseconds / 10:0} ms of each turn unmeasured) until each had {options.Duration.TotalSeconds:0} s, so both sampled the same stretch of the machine's state")
            : "run by run, each pair one run after the other";
        md.AppendLine();
        md.AppendLine(Invariant($"What metering costs (the gateway with metering on minus the same gateway with `Qlaud:Metering:Enabled=false`, {method}; target: metering adds under {MeteringP99TargetMs * 1000:0} µs at p99 and keeps throughput within {MeteringThroughputTarget:P0}):"));
        md.AppendLine();
        md.AppendLine("| mix | pair | req/s on / off | ratio | p50 on − off ms | p99 on − off ms | p99.9 on − off ms | CPU µs/request on → off |");
        md.AppendLine("| --- | --- | --: | --: | --: | --: | --: | --: |");
        foreach (var mix in rows.Select(static r => r.Mix).Distinct())
        {
            var on = rows.Where(r => r.Mix == mix && r.Path != Direct && !r.MeteringOff && r.Result is not null).Select(static r => r.Result!).ToList();
            var off = rows.Where(r => r.Mix == mix && r.MeteringOff && r.Result is not null).Select(static r => r.Result!).ToList();
            int pairs = Math.Min(on.Count, off.Count);
            if (pairs == 0)
            {
                continue;
            }

            var ratios = new double[pairs];
            var p50s = new double[pairs];
            var p99s = new double[pairs];
            var p999s = new double[pairs];
            for (int i = 0; i < pairs; i++)
            {
                ratios[i] = on[i].RequestsPerSecond / off[i].RequestsPerSecond;
                p50s[i] = on[i].Latency.P50 - off[i].Latency.P50;
                p99s[i] = on[i].Latency.P99 - off[i].Latency.P99;
                p999s[i] = on[i].Latency.P999 - off[i].Latency.P999;
                md.AppendLine(Invariant($"| {Name(mix)} | {i + 1} | {on[i].RequestsPerSecond:0} / {off[i].RequestsPerSecond:0} | {ratios[i]:0.00} | {Delta(on[i].Latency.P50, off[i].Latency.P50)} | {Delta(on[i].Latency.P99, off[i].Latency.P99)} | {Delta(on[i].Latency.P999, off[i].Latency.P999)} | {CpuPerRequest(on[i]):0} → {CpuPerRequest(off[i]):0} |"));
            }

            if (pairs > 1)
            {
                md.AppendLine(Invariant($"| {Name(mix)} | **median of {pairs}** | | **{Median(ratios):0.00}** | **{Delta(Median(p50s), 0)}** | **{Delta(Median(p99s), 0)}** | **{Delta(Median(p999s), 0)}** | |"));
            }
        }
    }

    /// <summary>Metering may add at most this much p99 latency, in ms.</summary>
    public const double MeteringP99TargetMs = 0.05;

    /// <summary>Throughput with metering must stay within this share of throughput without it.</summary>
    public const double MeteringThroughputTarget = 0.05;

    internal static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    internal static double CpuPerRequest(RunResult result) => CpuPerRequest(result, "qlaud");

    /// <summary>µs of CPU per request of the process named by <paramref name="probe"/>.</summary>
    internal static double CpuPerRequest(RunResult result, string probe)
        => result.CpuPercent.TryGetValue(probe, out var cpu) && result.Requests > 0 ? cpu / 100 * result.Seconds / result.Requests * 1e6 : double.NaN;

    /// <summary>The CPU probe of the process a target's requests go through (a proxy or a gateway) in a baselines run.</summary>
    public const string Hop = "hop";

    public const string Direct = "direct";

    /// <summary>Ends the path of a row driven through the gateway with metering off.</summary>
    public const string MeteringOffSuffix = ", metering off";

    /// <summary>The heading and the lines that say how, where and on what the numbers were measured.</summary>
    internal static void Header(StringBuilder md, Profile profile, LoadOptions options, string command, string machine, string? commit, string what, string sharing)
    {
        md.AppendLine(Invariant($"## Load: {profile.Name}{(options.Tag is null ? "" : " (" + options.Tag + ")")}{what} — {profile.Connections} connection(s){(profile.RatePerSecond > 0 ? $" sending {profile.RatePerSecond} requests/s in all" : "")}, upstream latency {profile.UpstreamLatencyMs} ms, {profile.ChunkDelayMs} ms between chunks"));
        md.AppendLine();
        md.AppendLine(Invariant($"- Command: `{command}`"));
        md.AppendLine(Invariant($"- Machine: {machine}. {sharing}"));
        md.AppendLine(Invariant($"- Commit {commit ?? "unknown"}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; {options.Prewarm.TotalSeconds:0} s of unmeasured traffic after start-up, then per row a warm-up of {options.Warmup.TotalSeconds:0} s and {options.Duration.TotalSeconds:0} s measured; answer {options.AnswerChars} characters in {options.ChunkSize}-character chunks; gateway log level {options.GatewayLogLevel}."));
        md.AppendLine(Invariant($"- Runtime settings inherited by all processes: {Machine.RuntimeSettings()}; for the gateway only: {(options.GatewayEnvironment.Count == 0 ? "none" : string.Join(", ", options.GatewayEnvironment.Select(static e => e.Key + "=" + e.Value)))}."));
        md.AppendLine();
    }

    private static RunResult? DirectFor(IReadOnlyList<Row> rows, Mix mix)
    {
        var baseline = mix == Mix.Translate ? Mix.Stream : mix;
        foreach (var row in rows)
        {
            if (row.Mix == baseline && row.Path == Direct)
            {
                return row.Result;
            }
        }

        return null;
    }

    internal static string Name(Mix mix) => mix switch
    {
        Mix.NonStream => "non-stream",
        Mix.Stream => "stream",
        _ => "translate",
    };

    internal static string Ms(double value) => double.IsNaN(value) ? "–" : value.ToString("0.000", CultureInfo.InvariantCulture);

    internal static string Delta(double qlaud, double direct)
    {
        if (double.IsNaN(qlaud) || double.IsNaN(direct))
        {
            return "–";
        }

        double delta = Math.Round(qlaud - direct, 3);
        return delta == 0 ? "0.000" : delta.ToString("+0.000;-0.000", CultureInfo.InvariantCulture);
    }

    internal static string Cpu(RunResult result, string name) => result.CpuPercent.TryGetValue(name, out var cpu) ? cpu.ToString("0", CultureInfo.InvariantCulture) + " %" : "–";

    /// <summary>CPU used by everything else on the machine during the run: the noise in these numbers.</summary>
    internal static string Other(RunResult result)
    {
        if (!result.CpuPercent.TryGetValue("machine", out var machine) || machine <= 0)
        {
            return "–";
        }

        double ours = 0;
        foreach (var name in (ReadOnlySpan<string>)["qlaud", "fake", "loadgen"])
        {
            ours += result.CpuPercent.TryGetValue(name, out var cpu) ? cpu : 0;
        }

        return Math.Max(0, machine - ours).ToString("0", CultureInfo.InvariantCulture) + " %";
    }

    internal static string Escape(string? text) => (text ?? "").Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal);

    internal static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
