using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Qlaud.LoadBench;

/// <summary>
/// The batch profile: how many requests per second a background batch sustains against a 20 ms upstream, and what it does
/// to interactive latency. Paced interactive traffic runs three times through Qlaud: alone, while a large batch runs
/// (the batch's finished-request count is read before and after), and alone again after the batch is cancelled.
/// </summary>
internal static class BatchScenario
{
    /// <summary>Requests in the batch: more than it can finish during one run, so it runs the whole time.</summary>
    private const int BatchRequests = 20_000;

    public static async Task<string> RunAsync(Profile profile, LoadOptions options, string fakeDll, string gatewayDll, string command, string machine, string? commit,
        CancellationToken cancellationToken)
    {
        var workDirectory = Directory.CreateTempSubdirectory("qlaud-loadbench-");
        try
        {
            int fakePort = Program.FreePort();
            int gatewayPort = Program.FreePort();
            string masterKey = "qlk_live_" + RandomNumberGenerator.GetString("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 43);
            var startTimeout = TimeSpan.FromSeconds(60);
            Program.Progress($"{profile.Name}: starting the fake provider on port {fakePort} and Qlaud on port {gatewayPort}");
            using var fake = await ChildProcess.StartAsync("the fake provider", fakeDll,
                ["--urls", $"http://{Program.Loopback}:{fakePort}", "--latency-ms", Invariant(profile.UpstreamLatencyMs), "--text", RequestBodies.AnswerText(options.AnswerChars)],
                new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = "Production" }, workDirectory.FullName, "fake-provider listening on", startTimeout, cancellationToken);
            var environment = Program.GatewayEnvironment(options, masterKey, fakePort);
            using var gateway = await ChildProcess.StartAsync("Qlaud.Server", gatewayDll, ["--urls", $"http://{Program.Loopback}:{gatewayPort}"],
                environment, workDirectory.FullName, "Qlaud gateway listening on", startTimeout, cancellationToken);

            var self = Process.GetCurrentProcess();
            (string, Func<TimeSpan>)[] cpu =
            [
                ("qlaud", () => gateway.CpuTime),
                ("fake", () => fake.CpuTime),
                ("loadgen", () =>
                {
                    self.Refresh();
                    return self.TotalProcessorTime;
                }),
                ("machine", Machine.BusyTime),
            ];
            var gatewayBase = new Uri($"http://{Program.Loopback}:{gatewayPort}");
            var interactive = new LoadTarget("qlaud", new Uri(gatewayBase, "/v1/chat/completions"), RequestBodies.OpenAI(stream: false),
                [new("Authorization", "Bearer " + masterKey)], false, TokenDialect.None);
            if (await LoadGenerator.ProbeAsync(interactive, cancellationToken) is { } problem)
            {
                throw new InvalidOperationException("the gateway does not answer: " + problem);
            }

            if (options.Prewarm > TimeSpan.Zero)
            {
                Program.Progress($"{profile.Name}: pre-warming for {options.Prewarm.TotalSeconds:0} s");
                await LoadGenerator.WarmAsync([interactive], profile.Connections, options.Prewarm, cancellationToken);
            }

            var generator = new LoadGenerator(capacity: 1 << 20);
            using var http = new HttpClient { BaseAddress = gatewayBase, Timeout = TimeSpan.FromSeconds(120) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", masterKey);

            var alone = await RunAsync(generator, interactive, profile, options, cpu, "interactive alone", cancellationToken);

            string batchId = await SubmitAsync(http, cancellationToken);
            await WaitForFinishedAsync(http, batchId, 1, cancellationToken);
            var (before, beforeAt) = (await FinishedAsync(http, batchId, cancellationToken), Stopwatch.GetTimestamp());
            var withBatch = await RunAsync(generator, interactive, profile, options, cpu, "interactive with the batch running", cancellationToken);
            var (after, afterAt) = (await FinishedAsync(http, batchId, cancellationToken), Stopwatch.GetTimestamp());
            double batchSeconds = Stopwatch.GetElapsedTime(beforeAt, afterAt).TotalSeconds;
            double batchRate = (after - before) / batchSeconds;
            Program.Progress(string.Create(CultureInfo.InvariantCulture, $"{profile.Name}: the batch finished {after - before} requests in {batchSeconds:0.0} s ({batchRate:0} req/s)"));
            using (var cancel = await http.PostAsync($"/v1/batches/{batchId}/cancel", null, cancellationToken))
            {
                cancel.EnsureSuccessStatusCode();
            }

            await WaitForStatusAsync(http, batchId, "cancelled", cancellationToken);
            var aloneAgain = await RunAsync(generator, interactive, profile, options, cpu, "interactive alone, after the batch", cancellationToken);
            fake.EnsureRunning();
            gateway.EnsureRunning();
            return Render(profile, options, alone, withBatch, aloneAgain, batchRate, environment, command, machine, commit);
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

    private static async Task<RunResult> RunAsync(LoadGenerator generator, LoadTarget target, Profile profile, LoadOptions options,
        IReadOnlyList<(string, Func<TimeSpan>)> cpu, string label, CancellationToken cancellationToken)
    {
        var result = await generator.RunAsync(target, profile.Connections, profile.RatePerSecond, options.Warmup, options.Duration, cpu, cancellationToken);
        Program.Progress(string.Create(CultureInfo.InvariantCulture,
            $"{profile.Name} {label}: {result.RequestsPerSecond:0} req/s, p50 {result.Latency.P50:0.000} ms, p99 {result.Latency.P99:0.000} ms, errors {result.Errors}"));
        return result with { Label = label };
    }

    /// <summary>Uploads a JSONL file of <see cref="BatchRequests"/> chat requests and creates a batch on it.</summary>
    private static async Task<string> SubmitAsync(HttpClient http, CancellationToken cancellationToken)
    {
        string body = Encoding.UTF8.GetString(RequestBodies.OpenAI(stream: false));
        var jsonl = new StringBuilder();
        for (int i = 0; i < BatchRequests; i++)
        {
            jsonl.Append(CultureInfo.InvariantCulture, $$"""{"custom_id":"b{{i}}","method":"POST","url":"/v1/chat/completions","body":{{body}}}""").Append('\n');
        }

        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new StringContent(jsonl.ToString()), "file", "bench.jsonl" },
        };
        using var uploaded = await http.PostAsync("/v1/files", form, cancellationToken);
        uploaded.EnsureSuccessStatusCode();
        using var file = JsonDocument.Parse(await uploaded.Content.ReadAsStringAsync(cancellationToken));
        string fileId = file.RootElement.GetProperty("id").GetString()!;
        using var created = await http.PostAsync("/v1/batches", new StringContent(
            $$"""{"input_file_id":"{{fileId}}","endpoint":"/v1/chat/completions","completion_window":"24h"}""", Encoding.UTF8, "application/json"), cancellationToken);
        created.EnsureSuccessStatusCode();
        using var batch = JsonDocument.Parse(await created.Content.ReadAsStringAsync(cancellationToken));
        return batch.RootElement.GetProperty("id").GetString()!;
    }

    private static async Task<int> FinishedAsync(HttpClient http, string batchId, CancellationToken cancellationToken)
    {
        using var batch = JsonDocument.Parse(await http.GetStringAsync($"/v1/batches/{batchId}", cancellationToken));
        var counts = batch.RootElement.GetProperty("request_counts");
        return counts.GetProperty("completed").GetInt32() + counts.GetProperty("failed").GetInt32();
    }

    private static async Task WaitForFinishedAsync(HttpClient http, string batchId, int finished, CancellationToken cancellationToken)
    {
        for (int i = 0; i < 600 && await FinishedAsync(http, batchId, cancellationToken) < finished; i++)
        {
            await Task.Delay(100, cancellationToken);
        }
    }

    private static async Task WaitForStatusAsync(HttpClient http, string batchId, string status, CancellationToken cancellationToken)
    {
        for (int i = 0; i < 600; i++)
        {
            using var batch = JsonDocument.Parse(await http.GetStringAsync($"/v1/batches/{batchId}", cancellationToken));
            if (batch.RootElement.GetProperty("status").GetString() == status)
            {
                return;
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new InvalidOperationException($"the batch did not reach '{status}' within 60 s");
    }

    private static string Render(Profile profile, LoadOptions options, RunResult alone, RunResult withBatch, RunResult aloneAgain, double batchRate,
        IReadOnlyDictionary<string, string> environment, string command, string machine, string? commit)
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"# Load: {profile.Name}").AppendLine();
        text.AppendLine(c, $"Interactive: {profile.Connections} connections sending {profile.RatePerSecond} non-streamed chat requests/s in all through Qlaud; upstream latency {profile.UpstreamLatencyMs} ms; " +
            $"{options.Duration.TotalSeconds:0} s measured after {options.Warmup.TotalSeconds:0} s warm-up per run. Batch: {BatchRequests} requests of the same body " +
            $"(Qlaud:Batches:MaxConcurrency {Setting(environment, "Qlaud__Batches__MaxConcurrency", "8")}, MaxConcurrencyPerBatch {Setting(environment, "Qlaud__Batches__MaxConcurrencyPerBatch", "4")}), run by Qlaud itself (no batch discount on the route).").AppendLine();
        text.AppendLine("| run | interactive req/s | p50 ms | p99 ms | errors | batch req/s | Qlaud CPU % |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (result, rate) in new[] { (alone, (double?)null), (withBatch, batchRate), (aloneAgain, null) })
        {
            text.AppendLine(c, $"| {result.Label} | {result.RequestsPerSecond:0} | {result.Latency.P50:0.00} | {result.Latency.P99:0.00} | {result.Errors} | {(rate is { } r ? r.ToString("0", c) : "–")} | {(result.CpuPercent.TryGetValue("qlaud", out double q) ? q.ToString("0", c) : "–")} |");
        }

        text.AppendLine();
        text.AppendLine(c, $"Interactive p99 with the batch running: {withBatch.Latency.P99:0.00} ms; {(withBatch.Latency.P99 / alone.Latency.P99 - 1) * 100:+0.0;-0.0} % against the run before it ({alone.Latency.P99:0.00} ms), " +
            $"{(withBatch.Latency.P99 / aloneAgain.Latency.P99 - 1) * 100:+0.0;-0.0} % against the run after it ({aloneAgain.Latency.P99:0.00} ms).");
        text.AppendLine();
        text.AppendLine(c, $"Command: `{command}`. Machine: {machine}.{(commit is null ? "" : $" Commit: {commit}.")}");
        return text.ToString();
    }

    private static string Setting(IReadOnlyDictionary<string, string> environment, string key, string fallback) => environment.TryGetValue(key, out var value) ? value : fallback;

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
