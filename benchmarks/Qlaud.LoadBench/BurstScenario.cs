using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Qlaud.LoadBench;

/// <summary>One burst: <c>N</c> streams opened at once against one target.</summary>
/// <param name="Complete">Streams that ended with <c>[DONE]</c> and carried exactly the fake's text, in order.</param>
/// <param name="Corrupt">Streams that ended but whose text differs from the fake's: a chunk dropped, duplicated or reordered.</param>
/// <param name="Failed">Streams that failed (status, transport error, no final event).</param>
/// <param name="Ttft">Time to first token of each stream, from the moment the whole burst was released.</param>
/// <param name="HopCpuMs">CPU the hop process used during the burst, ms.</param>
/// <param name="RssBefore">The hop's resident memory just before the burst, bytes.</param>
/// <param name="RssPeak">The most it held during the burst (sampled every 20 ms), bytes.</param>
/// <param name="ListenOverflows">The kernel's count of connections dropped because a listen socket's accept queue was full
/// (<c>ListenOverflows</c> in <c>/proc/net/netstat</c>, for the whole machine) during the burst: each one is a client whose SYN
/// is retried a second or more later.</param>
internal sealed record BurstResult(string Label, int Round, int Streams, int Complete, int Corrupt, int Failed, string? FirstError, Percentiles Ttft,
    double Seconds, double HopCpuMs, long RssBefore, long RssPeak, long ListenOverflows);

/// <summary>
/// <c>--burst N</c>: <c>N</c> streams (each <c>--burst-chunks</c> chunks, <c>--chunk-delay-ms</c> apart) opened at the same
/// moment against each target in turn: direct, the naive proxy, YARP, and Qlaud. Checks every stream's text against the
/// fake's (no chunk dropped, duplicated or reordered) and reports time to first token and each hop's memory per stream.
/// </summary>
internal static class BurstScenario
{
    public static TimeSpan Budget(LoadOptions options)
        => TimeSpan.FromSeconds(120) + (options.Repeat * 4 * (TimeSpan.FromMilliseconds(options.BurstChunks * Math.Max(1, options.BurstChunkDelayMs) * 3) + TimeSpan.FromSeconds(40)));

    public static async Task<List<BurstResult>> RunAsync(LoadOptions options, string root, string fakeDll, string gatewayDll, CancellationToken cancellationToken)
    {
        var workDirectory = Directory.CreateTempSubdirectory("qlaud-loadbench-");
        var started = new List<ChildProcess>();
        try
        {
            var startTimeout = TimeSpan.FromSeconds(60);
            int fakePort = Program.FreePort();
            string text = RequestBodies.AnswerText(options.BurstChunks * options.ChunkSize);
            string masterKey = "qlk_live_" + RandomNumberGenerator.GetString("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 43);
            var fake = await ChildProcess.StartAsync("the fake provider", fakeDll,
                [
                    "--urls", $"http://{Program.Loopback}:{fakePort}",
                    "--latency-ms", "0",
                    "--chunk-size", options.ChunkSize.ToString(CultureInfo.InvariantCulture),
                    "--chunk-delay-ms", options.BurstChunkDelayMs.ToString(CultureInfo.InvariantCulture),
                    "--text", text,
                ],
                new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = "Production" },
                workDirectory.FullName, "fake-provider listening on", startTimeout, cancellationToken);
            started.Add(fake);
            string upstream = $"http://{Program.Loopback}:{fakePort}";
            var production = new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = "Production", ["ASPNETCORE_ENVIRONMENT"] = "Production" };

            async Task<(ChildProcess Process, Uri Base)> StartAsync(string name, string dll, string marker, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment)
            {
                int port = Program.FreePort();
                var process = await ChildProcess.StartAsync(name, dll, ["--urls", $"http://{Program.Loopback}:{port}", .. arguments], environment,
                    workDirectory.FullName, marker, startTimeout, cancellationToken);
                started.Add(process);
                return (process, new Uri($"http://{Program.Loopback}:{port}"));
            }

            var naive = await StartAsync(BaselineScenario.Naive, Repository.Dll(root, BaselineScenario.NaiveProject), "naive proxy listening on", ["--upstream", upstream], production);
            var yarp = await StartAsync(BaselineScenario.Yarp, Repository.Dll(root, BaselineScenario.YarpProject), "YARP proxy listening on", ["--upstream", upstream], production);
            var qlaud = await StartAsync(BaselineScenario.Qlaud, gatewayDll, "Qlaud gateway listening on", [], Program.GatewayEnvironment(options, masterKey, fakePort));

            byte[] body = RequestBodies.OpenAI(stream: true);
            var targets = new (string Label, Uri Uri, string Key, ChildProcess? Hop)[]
            {
                (Report.Direct, new Uri($"{upstream}/v1/chat/completions"), "x", null),
                (BaselineScenario.Naive, new Uri(naive.Base, "/v1/chat/completions"), "x", naive.Process),
                (BaselineScenario.Yarp, new Uri(yarp.Base, "/v1/chat/completions"), "x", yarp.Process),
                (BaselineScenario.Qlaud, new Uri(qlaud.Base, "/v1/chat/completions"), masterKey, qlaud.Process),
            };

            // A few requests through each, so no burst pays for JIT or first-use set-up; the hops' upstream pools then hold a few connections.
            foreach (var target in targets)
            {
                for (int i = 0; i < 4; i++)
                {
                    var probe = await BurstAsync(target.Label, 0, target.Uri, target.Key, body, text, 8, null, cancellationToken);
                    if (probe.Complete != 8)
                    {
                        throw new InvalidOperationException($"{target.Label}: a warm-up burst of 8 streams had {probe.Corrupt} corrupt and {probe.Failed} failed streams: {probe.FirstError}");
                    }
                }
            }

            var results = new List<BurstResult>();
            for (int round = 1; round <= options.Repeat; round++)
            {
                var order = round % 2 == 1 ? targets : targets.Reverse().ToArray();
                foreach (var target in order)
                {
                    // Let the previous burst's connections close and the machine settle.
                    await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
                    var result = await BurstAsync(target.Label, round, target.Uri, target.Key, body, text, options.Burst, target.Hop, cancellationToken);
                    results.Add(result);
                    Program.Progress(string.Create(CultureInfo.InvariantCulture,
                        $"burst {round} {target.Label}: {result.Complete}/{result.Streams} complete, {result.Corrupt} corrupt, {result.Failed} failed, TTFT p50 {result.Ttft.P50:0.0} ms p99 {result.Ttft.P99:0.0} ms max {result.Ttft.Max:0.0} ms"));
                    foreach (var process in started)
                    {
                        process.EnsureRunning();
                    }
                }
            }

            return results;
        }
        finally
        {
            foreach (var process in started)
            {
                process.Dispose();
            }

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

    private static async Task<BurstResult> BurstAsync(string label, int round, Uri uri, string key, byte[] body, string expected, int streams, ChildProcess? hop,
        CancellationToken cancellationToken)
    {
        using var client = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = streams,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        })
        {
            Timeout = TimeSpan.FromMinutes(2),
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ttft = new LatencyRecorder(streams);
        int complete = 0, corrupt = 0, failed = 0;
        string? firstError = null;
        long releasedAt = 0;

        async Task StreamAsync()
        {
            await release.Task.ConfigureAwait(false);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    throw new HttpRequestException($"HTTP {(int)response.StatusCode}");
                }

                await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                var (text, done, first) = await ReadAsync(stream, cancellationToken).ConfigureAwait(false);
                if (first > 0)
                {
                    ttft.Record(first - releasedAt);
                }

                if (!done)
                {
                    throw new IOException("the stream ended without [DONE]");
                }

                if (text == expected)
                {
                    Interlocked.Increment(ref complete);
                }
                else
                {
                    Interlocked.Increment(ref corrupt);
                    Interlocked.CompareExchange(ref firstError, $"text differs: {text.Length} characters received, {expected.Length} sent", null);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref failed);
                Interlocked.CompareExchange(ref firstError, ex.GetType().Name + ": " + ex.Message, null);
            }
        }

        var tasks = new Task[streams];
        for (int i = 0; i < streams; i++)
        {
            tasks[i] = Task.Run(StreamAsync, cancellationToken);
        }

        await Task.Delay(200, cancellationToken); // every stream waiting at the gate
        long rssBefore = hop?.Memory().Now ?? 0;
        var cpuBefore = hop?.CpuTime ?? TimeSpan.Zero;
        long peak = rssBefore;
        long overflowsBefore = ListenOverflows();
        releasedAt = Stopwatch.GetTimestamp();
        release.SetResult();
        var all = Task.WhenAll(tasks);
        while (!all.IsCompleted)
        {
            await Task.WhenAny(all, Task.Delay(20, cancellationToken)).ConfigureAwait(false);
            if (hop is not null)
            {
                peak = Math.Max(peak, hop.Memory().Now);
            }
        }

        await all.ConfigureAwait(false);
        double seconds = Stopwatch.GetElapsedTime(releasedAt).TotalSeconds;
        double cpuMs = hop is null ? double.NaN : (hop.CpuTime - cpuBefore).TotalMilliseconds;
        return new BurstResult(label, round, streams, complete, corrupt, failed, firstError, ttft.Summarize(), seconds, cpuMs, rssBefore, peak,
            ListenOverflows() - overflowsBefore);
    }

    /// <summary>The machine's <c>TcpExt: ListenOverflows</c> so far, or 0 where <c>/proc/net/netstat</c> is missing.</summary>
    private static long ListenOverflows()
    {
        try
        {
            string[] lines = File.ReadAllLines("/proc/net/netstat");
            for (int i = 0; i + 1 < lines.Length; i += 2)
            {
                string[] names = lines[i].Split(' ');
                string[] values = lines[i + 1].Split(' ');
                int at = Array.IndexOf(names, "ListenOverflows");
                if (at > 0 && at < values.Length)
                {
                    return long.Parse(values[at], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    /// <summary>Reads an OpenAI stream to its end: the concatenated <c>content</c> of its chunks, whether <c>[DONE]</c> came, and when the first text arrived.</summary>
    private static async Task<(string Text, bool Done, long FirstToken)> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        var text = new StringBuilder();
        int filled = 0;
        long first = 0;
        bool done = false;
        while (true)
        {
            if (filled == buffer.Length)
            {
                throw new IOException("An event larger than the read buffer.");
            }

            int read = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return (text.ToString(), done, first);
            }

            long now = Stopwatch.GetTimestamp();
            filled += read;
            int consumed = 0;
            while (true)
            {
                int end = buffer.AsSpan(consumed, filled - consumed).IndexOf("\n\n"u8);
                if (end < 0)
                {
                    break;
                }

                var sseEvent = buffer.AsSpan(consumed, end);
                done |= sseEvent.StartsWith("data: [DONE]"u8);
                var marker = "\"content\":\""u8;
                int at = sseEvent.IndexOf(marker);
                if (at >= 0)
                {
                    var rest = sseEvent[(at + marker.Length)..];
                    int close = rest.IndexOf((byte)'"');
                    if (close > 0)
                    {
                        if (first == 0)
                        {
                            first = now;
                        }

                        text.Append(Encoding.UTF8.GetString(rest[..close]));
                    }
                }

                consumed += end + 2;
            }

            if (consumed > 0)
            {
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
            }
        }
    }

    public static string Render(LoadOptions options, IReadOnlyList<BurstResult> results, string command, string machine, string? commit)
    {
        var md = new StringBuilder();
        md.AppendLine(Report.Invariant($"## Load: burst of {options.Burst} streams opened at once, {options.BurstChunks} chunks each, {options.BurstChunkDelayMs} ms apart"));
        md.AppendLine();
        md.AppendLine(Report.Invariant($"- Command: `{command}`"));
        md.AppendLine(Report.Invariant($"- Machine: {machine}. The load generator, the fake provider and the three hops share these cores; the hops not being driven sit idle."));
        md.AppendLine(Report.Invariant($"- Commit {commit ?? "unknown"}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; runtime settings inherited by all processes: {Machine.RuntimeSettings()}; for the gateway only: {(options.GatewayEnvironment.Count == 0 ? "none" : string.Join(", ", options.GatewayEnvironment.Select(static e => e.Key + "=" + e.Value)))}."));
        md.AppendLine("- Each burst: a new client with one connection per stream, every request released at the same moment; TTFT from that moment to the stream's first text. Before the rounds every target served four bursts of 8 streams (no JIT in the measured bursts); round 1 goes direct, naive, YARP, Qlaud, round 2 the other way, and so on, 3 s apart.");
        md.AppendLine();
        md.AppendLine("| round | target | complete | corrupt (dropped, duplicated or reordered chunk) | failed | TTFT p50 ms | TTFT p99 ms | TTFT max ms | TTFT p99 vs direct | seconds | hop CPU ms | hop RSS before MB | hop RSS peak MB | KB per stream in flight | listen overflows |");
        md.AppendLine("| --: | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
        foreach (var r in results)
        {
            var direct = results.FirstOrDefault(d => d.Round == r.Round && d.Label == Report.Direct);
            string ratio = direct is null || r.Label == Report.Direct ? "–" : Report.Invariant($"{r.Ttft.P99 / direct.Ttft.P99:0.00} ×");
            string perStream = r.RssBefore > 0 ? Report.Invariant($"{(r.RssPeak - r.RssBefore) / 1024.0 / r.Streams:0}") : "–";
            md.AppendLine(Report.Invariant($"| {r.Round} | {r.Label} | {r.Complete} | {r.Corrupt} | {r.Failed} | {r.Ttft.P50:0.0} | {r.Ttft.P99:0.0} | {r.Ttft.Max:0.0} | {ratio} | {r.Seconds:0.0} | {(double.IsNaN(r.HopCpuMs) ? "–" : r.HopCpuMs.ToString("0", CultureInfo.InvariantCulture))} | {(r.RssBefore > 0 ? (r.RssBefore / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) : "–")} | {(r.RssBefore > 0 ? (r.RssPeak / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) : "–")} | {perStream} | {r.ListenOverflows} |"));
        }

        foreach (var r in results.Where(static r => r.FirstError is not null))
        {
            md.AppendLine();
            md.AppendLine(Report.Invariant($"- First error, round {r.Round} {r.Label}: {Report.Escape(r.FirstError)}"));
        }

        md.AppendLine();
        md.AppendLine("KB per stream in flight: (the hop's peak RSS during the burst − its RSS before) / streams. Listen overflows: connections the kernel dropped during the burst because an accept queue was full (machine-wide `TcpExt ListenOverflows`); each such client retries its SYN after 1 s, then 3 s. Targets (issue 18): no corrupt or failed stream; ≤ 100 KB of gateway memory per stream; Qlaud's TTFT p99 within 1.25 × direct's.");
        return md.ToString();
    }
}
