using System.Text;

namespace Qlaud.LoadBench;

/// <summary>Renders a <c>--baselines</c> run: every target side by side, each hop's CPU per request, start-up and memory, and the issue's targets.</summary>
internal static class BaselineReport
{
    /// <summary>Qlaud's CPU per request may exceed YARP's by at most this much, µs (64 connections).</summary>
    public const double CpuOverYarpUs = 25;

    /// <summary>Qlaud's added p99 may exceed YARP's by at most this much, ms (one connection).</summary>
    public const double P99OverYarpMs = 0.1;

    /// <summary>Streaming: added time to first token at p99, ms.</summary>
    public const double AddedTtftP99Ms = 0.2;

    /// <summary>Streaming: added gap between chunks at p99, ms.</summary>
    public const double AddedGapP99Ms = 0.005;

    /// <summary>Idle resident memory of Qlaud.Server, bytes.</summary>
    public const long IdleRssTarget = 64L * 1024 * 1024;

    public static string Render(Profile profile, LoadOptions options, IReadOnlyList<Row> rows, IReadOnlyList<HopFacts> hops, string command, string machine, string? commit)
    {
        var md = new StringBuilder();
        Report.Header(md, profile, options, command, machine, commit, " — baselines",
            "The load generator, the fake provider and all four hops (two proxies, two gateways) share these cores; the hops not being driven sit idle.");
        md.AppendLine(Report.Invariant($"Every target of a mix is driven in one run, in turns of {options.Interleave.TotalSeconds:0.#} s (A B C … then … C B A, the first tenth of each turn unmeasured) until each had {options.Duration.TotalSeconds:0} s; {options.Repeat} run(s) per mix, the order of the targets reversed in every other run. Qlaud is driven with {(options.Keys > 0 ? Report.Invariant($"{options.Keys} end-user keys (each with a $1000 cap, its own end user), one per request in turn") : "the master key")}."));
        md.AppendLine();
        md.AppendLine("| mix | path | run | req/s | p50 ms | p99 ms | TTFT p50 ms | TTFT p99 ms | gap p50 ms | gap p99 ms | errors | hop CPU µs/request | CPU fake | CPU loadgen | CPU other |");
        md.AppendLine("| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
        foreach (var row in rows)
        {
            var r = row.Result!;
            md.AppendLine(Report.Invariant($"| {Report.Name(row.Mix)} | {row.Path} | {row.Repetition + 1} | {r.RequestsPerSecond:0} | {Report.Ms(r.Latency.P50)} | {Report.Ms(r.Latency.P99)} | {Report.Ms(r.TimeToFirstToken.P50)} | {Report.Ms(r.TimeToFirstToken.P99)} | {Report.Ms(r.Gap.P50)} | {Report.Ms(r.Gap.P99)} | {r.Errors} | {Us(Report.CpuPerRequest(r, Report.Hop))} | {Report.Cpu(r, "fake")} | {Report.Cpu(r, "loadgen")} | {Other(r)} |"));
        }

        md.AppendLine();
        md.AppendLine(options.Repeat > 1
            ? Report.Invariant($"Each hop against direct (the translate rows against the direct OpenAI stream); each number the median over the {options.Repeat} runs of the difference within a run:")
            : "Each hop against direct (the translate rows against the direct OpenAI stream), within the same run:");
        md.AppendLine();
        md.AppendLine("| mix | path | req/s | vs direct | added p50 ms | added p99 ms | added TTFT p50 ms | added TTFT p99 ms | added gap p99 ms | hop CPU µs/request |");
        md.AppendLine("| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: |");
        var summary = new List<Summary>();
        foreach (var mix in rows.Select(static r => r.Mix).Distinct())
        {
            foreach (var path in rows.Where(r => r.Mix == mix && r.Path != Report.Direct).Select(static r => r.Path).Distinct())
            {
                var pairs = rows.Where(r => r.Mix == mix && r.Path == path)
                    .Select(r => (Hop: r.Result!, Direct: rows.First(d => d.Mix == mix && d.Path == Report.Direct && d.Repetition == r.Repetition).Result!))
                    .ToList();
                double M(Func<RunResult, RunResult, double> f) => Report.Median(pairs.Select(p => f(p.Hop, p.Direct)).ToArray());
                var s = new Summary(mix, path,
                    M(static (h, _) => h.RequestsPerSecond),
                    M(static (h, d) => h.RequestsPerSecond / d.RequestsPerSecond),
                    M(static (h, d) => h.Latency.P50 - d.Latency.P50),
                    M(static (h, d) => h.Latency.P99 - d.Latency.P99),
                    M(static (h, d) => h.TimeToFirstToken.P50 - d.TimeToFirstToken.P50),
                    M(static (h, d) => h.TimeToFirstToken.P99 - d.TimeToFirstToken.P99),
                    M(static (h, d) => h.Gap.P99 - d.Gap.P99),
                    M(static (h, _) => Report.CpuPerRequest(h, Report.Hop)));
                summary.Add(s);
                md.AppendLine(Report.Invariant($"| {Report.Name(mix)} | {path} | {s.RequestsPerSecond:0} | {s.Ratio:0.00} | {Report.Delta(s.AddedP50, 0)} | {Report.Delta(s.AddedP99, 0)} | {Report.Delta(s.AddedTtftP50, 0)} | {Report.Delta(s.AddedTtftP99, 0)} | {Report.Delta(s.AddedGapP99, 0)} | {Us(s.CpuUs)} |"));
            }
        }

        md.AppendLine();
        md.AppendLine("Each hop as a process (start-up: from process start to its first answered request, a non-streamed chat completion; idle RSS: a second after that answer; peak: the most it held at any time in the run, pre-warm included):");
        md.AppendLine();
        md.AppendLine("| process | start-up to first answer ms | RSS idle MB | RSS peak MB | RSS at the end MB | peak / idle |");
        md.AppendLine("| --- | --: | --: | --: | --: | --: |");
        foreach (var hop in hops)
        {
            md.AppendLine(Report.Invariant($"| {hop.Name} | {hop.StartupMs:0} | {Mb(hop.IdleRss)} | {Mb(hop.PeakRss)} | {Mb(hop.EndRss)} | {(hop.IdleRss > 0 ? (double)hop.PeakRss / hop.IdleRss : double.NaN):0.00} |"));
        }

        Verdicts(md, profile, summary, hops);
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
        md.AppendLine("Hop CPU µs/request: the CPU the proxy or gateway process used over the whole measured stretch (its idle turns included) per request it was sent in it. CPU columns are % of one core over the run (200 % = both cores); CPU other is everything else on the machine (noise). TTFT: request sent → first event carrying text. Gap: time between consecutive text events of one answer.");
        return md.ToString();
    }

    private static void Verdicts(StringBuilder md, Profile profile, List<Summary> summary, IReadOnlyList<HopFacts> hops)
    {
        var lines = new List<string>();
        Summary? Find(Mix mix, string prefix) => summary.FirstOrDefault(s => s.Mix == mix && s.Path.StartsWith(prefix, StringComparison.Ordinal) && !s.Path.Contains("metering off", StringComparison.Ordinal));
        void Verdict(string what, bool met, string measured) => lines.Add($"- {what}: {measured} — **{(met ? "met" : "missed")}**");

        var qlaud = Find(Mix.NonStream, BaselineScenario.Qlaud + ",");
        var yarp = Find(Mix.NonStream, BaselineScenario.Yarp);
        var naive = Find(Mix.NonStream, BaselineScenario.Naive);
        if (qlaud is not null && yarp is not null && naive is not null)
        {
            if (profile.Connections > 1)
            {
                Verdict("Throughput, non-stream, Qlaud ≥ YARP and ≥ the naive proxy", qlaud.RequestsPerSecond >= yarp.RequestsPerSecond && qlaud.RequestsPerSecond >= naive.RequestsPerSecond,
                    Report.Invariant($"{qlaud.RequestsPerSecond:0} vs {yarp.RequestsPerSecond:0} and {naive.RequestsPerSecond:0} req/s"));
            }
            else
            {
                Verdict("Added p50, non-stream, Qlaud ≤ the naive proxy", qlaud.AddedP50 <= naive.AddedP50, $"{UsDelta(qlaud.AddedP50)} vs {UsDelta(naive.AddedP50)} µs");
                Verdict($"Added p99, non-stream, Qlaud ≤ YARP + {P99OverYarpMs * 1000:0} µs", qlaud.AddedP99 <= yarp.AddedP99 + P99OverYarpMs,
                    $"{UsDelta(qlaud.AddedP99)} vs {UsDelta(yarp.AddedP99)} µs");
            }

            Verdict($"CPU per request, non-stream, Qlaud ≤ YARP + {CpuOverYarpUs:0} µs", qlaud.CpuUs <= yarp.CpuUs + CpuOverYarpUs, Report.Invariant($"{qlaud.CpuUs:0} vs {yarp.CpuUs:0} µs"));
        }

        // The streaming targets are about what one hop adds to one stream: judged at one connection, not under a queue of 64.
        Mix[] streamed = profile.Connections == 1 ? [Mix.Stream, Mix.Translate] : [];
        foreach (var mix in streamed)
        {
            if (Find(mix, BaselineScenario.Qlaud) is { } stream)
            {
                Verdict($"Added TTFT p99 ≤ {AddedTtftP99Ms * 1000:0} µs, {Report.Name(mix)}", stream.AddedTtftP99 <= AddedTtftP99Ms, UsDelta(stream.AddedTtftP99) + " µs");
                Verdict($"Added gap p99 ≤ {AddedGapP99Ms * 1000:0} µs, {Report.Name(mix)}", stream.AddedGapP99 <= AddedGapP99Ms, UsDelta(stream.AddedGapP99) + " µs");
            }
        }

        if (hops.FirstOrDefault(static h => h.Name == BaselineScenario.Qlaud) is { } gateway)
        {
            Verdict($"Qlaud.Server idle RSS ≤ {IdleRssTarget / 1048576} MB", gateway.IdleRss <= IdleRssTarget, Mb(gateway.IdleRss) + " MB");
            if (profile.Connections > 1)
            {
                Verdict("Qlaud.Server peak RSS under load ≤ 2 × idle", gateway.PeakRss <= 2 * gateway.IdleRss, Report.Invariant($"{Mb(gateway.PeakRss)} MB, {(double)gateway.PeakRss / gateway.IdleRss:0.00} ×"));
            }
        }

        if (lines.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Targets of issue 18 that this profile measures (Qlaud = metering on):");
            md.AppendLine();
            foreach (var line in lines)
            {
                md.AppendLine(line);
            }
        }
    }

    private static string Us(double value) => double.IsNaN(value) ? "–" : value.ToString("0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A difference given in ms, as whole µs with its sign.</summary>
    private static string UsDelta(double ms) => double.IsNaN(ms) ? "–" : Math.Round(ms * 1000).ToString("+0;-0;0", System.Globalization.CultureInfo.InvariantCulture);

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);

    private static string Other(RunResult result)
    {
        if (!result.CpuPercent.TryGetValue("machine", out var machine) || machine <= 0)
        {
            return "–";
        }

        double ours = 0;
        foreach (var name in (ReadOnlySpan<string>)["servers", "fake", "loadgen"])
        {
            ours += result.CpuPercent.TryGetValue(name, out var cpu) ? cpu : 0;
        }

        return Math.Max(0, machine - ours).ToString("0", System.Globalization.CultureInfo.InvariantCulture) + " %";
    }

    private sealed record Summary(Mix Mix, string Path, double RequestsPerSecond, double Ratio, double AddedP50, double AddedP99, double AddedTtftP50,
        double AddedTtftP99, double AddedGapP99, double CpuUs);
}
