using System.Globalization;
using System.Text;

namespace Qlaud.LoadBench;

/// <summary>Renders the failover profile as GitHub markdown: what callers saw, and what a failover cost them.</summary>
internal static class FailoverReport
{
    /// <summary>Below this many samples a p99 is close to the maximum: said next to the number.</summary>
    private const int FewSamples = 100;

    public static string Render(Profile profile, LoadOptions options, IReadOnlyList<FailoverRow> rows, string command, string machine, string? commit)
    {
        var md = new StringBuilder();
        Report.Header(md, profile, options, command, machine, commit, ": one model, two routes, route A fails every other request",
            "The load generator, the gateway and the two fake providers share these cores.");

        md.AppendLine(Invariant($"""
            Setup: Qlaud serves `{RequestBodies.Model}` with two routes in priority order, `{FailoverScenario.RouteA}` (route A) and `{FailoverScenario.RouteB}` (route B), each provider
            its own fake provider process, and `Qlaud:Routing:MaxRetries=0`: a failed attempt on A moves straight to B, no retry on A. In the failing runs,
            route A's fake answers its requests 1, 3, 5, … with HTTP {FailoverScenario.FailStatus} and an OpenAI error body, after the same {profile.UpstreamLatencyMs} ms it takes for an answer
            (`--fail-every {FailoverScenario.FailEvery} --fail-status {FailoverScenario.FailStatus}`). Three runs, each with fresh processes:

            - **healthy**: route A does not fail (the baseline: same gateway, same two routes, no failover).
            - **breaker default**: the circuit breaker as shipped (`BreakerFailureRatio` 0.5, `BreakerMinimumThroughput` 5, `BreakerSamplingSeconds` 30,
              `BreakerBreakSeconds` 30): with half of A's attempts failing, A's circuit opens, traffic goes to B without trying A for 30 s, then one
              request probes A.
            - **breaker off**: `Qlaud__Routing__BreakerFailureRatio=1`: the circuit opens only when every attempt in the window failed, which a route
              failing one request in two never reaches, so every request tries A first.

            Each successful answer is classified by Qlaud's response headers `x-qlaud-route` and `x-qlaud-attempts`: *A first try* (route A, 1 attempt),
            *failed over* (route B, 2 attempts: A failed, B answered), *B without trying A* (route B, 1 attempt: A's circuit was open).
            Success rate = HTTP 200 answers (streams: ending in `[DONE]` with no error event) / all requests that started and ended in the measured window.

            """));

        md.AppendLine("### What callers saw");
        md.AppendLine();
        md.AppendLine("| mix | run | requests | **success rate** | req/s | p50 ms | p99 ms | served by A | served by B | A first try | failed over A→B | B without trying A | A's circuit opened (since start) | CPU qlaud | CPU fakes | CPU loadgen | CPU other |");
        md.AppendLine("| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
        foreach (var row in rows)
        {
            if (row.Result is not { Routes: { } routes } r)
            {
                md.AppendLine(Invariant($"| {Report.Name(row.Mix)} | {row.Variant.Label} | skipped: {Report.Escape(row.Skipped)} | | | | | | | | | | | | | | |"));
                continue;
            }

            long total = r.Requests + r.MeasuredErrors;
            md.AppendLine(Invariant($"| {Report.Name(row.Mix)} | {row.Variant.Label} | {total} | **{Percent(r.SuccessRate)}** | {r.RequestsPerSecond:0} | {Report.Ms(r.Latency.P50)} | {Report.Ms(r.Latency.P99)} | {Share(routes.Served[0], r.Requests)} | {Share(routes.Served[1], r.Requests)} | {routes.FirstTry.Count} | {routes.FailedOver.Count} | {routes.Skipped} | {(row.Variant.FailingA ? Invariant($"{row.CircuitOpened}× ({row.CircuitOpenedSinceStart}×)") : "–")} | {Report.Cpu(r, "qlaud")} | {Report.Cpu(r, "fake")} | {Report.Cpu(r, "loadgen")} | {Report.Other(r)} |"));
        }

        md.AppendLine();
        md.AppendLine("### What a failover costs a caller");
        md.AppendLine();
        md.AppendLine(Invariant($"""
            **Added p99** = p99 of the failed-over requests − p99 of all requests of the *healthy* run of the same mix: how much longer the slowest
            1 % of callers whose request failed over waited than the slowest 1 % wait when nothing fails. That is the question a caller asks
            ("what does route A's trouble cost me?"), and the healthy run has a full sample in every mix. The comparison with requests served by A on
            the first try *in the same run* (same load, same moment) is shown too; with the default breaker there are few of those. A failed-over
            request pays route A's time to fail ({profile.UpstreamLatencyMs} ms before its {FailoverScenario.FailStatus} here, as a provider that is slow to fail would) plus a whole answer from B;
            *added p50 − {profile.UpstreamLatencyMs} ms* is what Qlaud's handling of the failure and the extra load add on top.

            """));
        md.AppendLine("| mix | run | failed over | p50 ms | **p99 ms** | healthy p99 ms | added p50 ms | **added p99 ms** | A first try p99 ms (same run) | added p99 vs A first try ms |");
        md.AppendLine("| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: |");
        foreach (var row in rows)
        {
            if (!row.Variant.FailingA || row.Result is not { Routes: { } routes })
            {
                continue;
            }

            var healthy = Healthy(rows, row.Mix);
            var failedOver = routes.FailedOver;
            string few = failedOver.Count is > 0 and < FewSamples ? " (few samples)" : "";
            md.AppendLine(Invariant($"| {Report.Name(row.Mix)} | {row.Variant.Label} | {failedOver.Count} | {Report.Ms(failedOver.P50)} | **{Report.Ms(failedOver.P99)}**{few} | {Report.Ms(healthy?.Latency.P99 ?? double.NaN)} | {Report.Delta(failedOver.P50, healthy?.Latency.P50 ?? double.NaN)} | **{Report.Delta(failedOver.P99, healthy?.Latency.P99 ?? double.NaN)}**{few} | {Report.Ms(routes.FirstTry.P99)}{(routes.FirstTry.Count is > 0 and < FewSamples ? " (few samples)" : "")} | {Report.Delta(failedOver.P99, routes.FirstTry.P99)} |"));
        }

        md.AppendLine();
        md.AppendLine("### Observations");
        md.AppendLine();
        foreach (var row in rows)
        {
            if (row.Result is not { Routes: { } routes } r)
            {
                continue;
            }

            md.AppendLine(Observation(row, r, routes));
        }

        var errors = rows.Where(static r => r.Result is { FirstError: not null }).ToList();
        if (errors.Count > 0)
        {
            md.AppendLine();
            foreach (var row in errors)
            {
                md.AppendLine(Invariant($"- First error, {Report.Name(row.Mix)} {row.Variant.Label}: {Report.Escape(row.Result!.FirstError)} ({row.Result.Errors} errors in the run, warm-up included)"));
            }
        }

        md.AppendLine();
        md.AppendLine("A's circuit opened: `Circuit of route … opened` lines the gateway logged during the row's warm-up and measured window, and in brackets since the gateway started (pre-warm and earlier rows of the run included; the half-open probe and the closing are logged at Information, below the gateway's log level). Each failed attempt on A is also a Warning line in the gateway's log. CPU columns are % of one core over the measured window (200 % = both cores); CPU fakes is both fake providers; CPU other is everything else on the machine (noise).");
        return md.ToString();
    }

    private static string Observation(FailoverRow row, RunResult r, RouteBreakdown routes)
    {
        string name = Invariant($"{Report.Name(row.Mix)}, {row.Variant.Label}");
        long total = r.Requests + r.MeasuredErrors;
        string success = r.MeasuredErrors == 0
            ? Invariant($"all {total} requests answered")
            : Invariant($"**{r.MeasuredErrors} of {total} requests failed** ({Percent(1 - r.SuccessRate)}), first error: {Report.Escape(r.FirstError)}");
        if (!row.Variant.FailingA)
        {
            return Invariant($"- {name}: {success}; {Share(routes.Served[0], r.Requests)} by route A on the first try, {routes.FailedOver.Count} failed over.");
        }

        string unknown = routes.Unknown > 0 ? Invariant($" {routes.Unknown} answers carried no known `x-qlaud-route`.") : "";
        if (routes.Skipped > 0 || row.CircuitOpened > 0)
        {
            return Invariant($"- {name}: {success}; A's circuit opened {row.CircuitOpened}× during the row ({row.CircuitOpenedSinceStart}× since the gateway started) and {Share(routes.Skipped, r.Requests)} of the answers came from B without trying A, {Share(routes.FailedOver.Count, r.Requests)} failed over, {Share(routes.FirstTry.Count, r.Requests)} were served by A on the first try.{unknown}");
        }

        return Invariant($"- {name}: {success}; A's circuit never opened: every request tried A first, {Share(routes.FailedOver.Count, r.Requests)} failed over to B (route A fails 1 in {FailoverScenario.FailEvery}), {Share(routes.FirstTry.Count, r.Requests)} were served by A.{unknown}");
    }

    private static RunResult? Healthy(IReadOnlyList<FailoverRow> rows, Mix mix)
    {
        foreach (var row in rows)
        {
            if (!row.Variant.FailingA && row.Mix == mix)
            {
                return row.Result;
            }
        }

        return null;
    }

    private static string Share(long part, long whole) => whole == 0 ? "–" : Invariant($"{100.0 * part / whole:0.0} %");

    /// <summary>Rounded down, so 99.999 % never reads as 100 %.</summary>
    private static string Percent(double ratio) => ratio >= 1 ? "100 %" : Invariant($"{Math.Floor(ratio * 10_000) / 100:0.00} %");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
