using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;

namespace Qlaud.LoadBench;

/// <summary>The result of one measured run against one target.</summary>
/// <param name="Requests">Successful requests that started and ended inside the measured window.</param>
/// <param name="Errors">Failed requests during the whole run, warm-up included.</param>
/// <param name="MeasuredErrors">Failed requests that started and ended inside the measured window.</param>
internal sealed record RunResult(
    string Label,
    int Connections,
    double Seconds,
    long Requests,
    long Errors,
    long MeasuredErrors,
    string? FirstError,
    Percentiles Latency,
    Percentiles TimeToFirstToken,
    Percentiles Gap,
    long Tokens,
    IReadOnlyDictionary<string, double> CpuPercent)
{
    public double RequestsPerSecond => Requests / Seconds;

    /// <summary>Successful requests over all requests of the measured window (1 when there were none).</summary>
    public double SuccessRate => Requests + MeasuredErrors == 0 ? 1 : (double)Requests / (Requests + MeasuredErrors);

    /// <summary>Which route served the measured requests, when the target names its routes.</summary>
    public RouteBreakdown? Routes { get; init; }
}

/// <summary>How the successful requests of a measured run were served, from the gateway's response headers.</summary>
/// <param name="Names">The routes in priority order.</param>
/// <param name="Served">Requests served by each route (same order as <paramref name="Names"/>).</param>
/// <param name="Unknown">Requests without a recognised <c>x-qlaud-route</c>.</param>
/// <param name="FirstTry">Served by the first route on the first attempt.</param>
/// <param name="FailedOver">Served after more than one attempt (<c>x-qlaud-attempts</c> &gt; 1).</param>
/// <param name="Skipped">Served by a later route on the first attempt: the first route was not tried (its circuit was open).</param>
internal sealed record RouteBreakdown(IReadOnlyList<string> Names, long[] Served, long Unknown, Percentiles FirstTry, Percentiles FailedOver, long Skipped);

/// <summary>
/// Drives one target with a fixed number of concurrent connections, each running requests back to back or, paced, at an even
/// share of a fixed rate: a warm-up, then a measured window. Only requests that start and finish inside the window count.
/// </summary>
/// <remarks>
/// Paced connections start their requests on a schedule (connection <c>i</c> of <c>n</c> at <c>i/rate</c>, then every
/// <c>n/rate</c> seconds), so the rate does not depend on how fast the server answers; a connection whose request outlasts its
/// slot sends the next one at once, and one that fell more than a slot behind starts a new schedule rather than burst. Latency
/// is timed from the moment a request is sent: the timer that wakes the connection (about a millisecond coarse) only moves
/// when requests start, not what they measure.
/// </remarks>
internal sealed class LoadGenerator(int capacity)
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    private readonly LatencyRecorder _latency = new(capacity);
    private readonly LatencyRecorder _ttft = new(capacity);
    private readonly LatencyRecorder _gaps = new(capacity * 4);
    private readonly LatencyRecorder _firstTry = new(capacity);
    private readonly LatencyRecorder _failedOver = new(capacity);
    private long[] _served = [];
    private long _unknownRoute;
    private long _skipped;

    /// <summary>Requests sent in the measured stretch of an interleaved run, recorded or not (for CPU per request).</summary>
    private long _sent;
    private long _requests;
    private long _errors;
    private long _measuredErrors;
    private long _tokens;
    private string? _firstError;

    /// <summary>Sends one request and checks the answer; returns an error description, or null when it looks right.</summary>
    public static async Task<string?> ProbeAsync(LoadTarget target, CancellationToken cancellationToken)
    {
        using var client = CreateClient(1);
        using var request = CreateRequest(target);
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                target.Tally?.Failed();
                return $"HTTP {(int)response.StatusCode}: {Truncate(body)}";
            }

            bool looksRight = target.Tokens switch
            {
                TokenDialect.OpenAI => body.Contains("[DONE]", StringComparison.Ordinal) && body.Contains("\"content\":\"", StringComparison.Ordinal),
                TokenDialect.Anthropic => body.Contains("content_block_delta", StringComparison.Ordinal) && body.Contains("message_stop", StringComparison.Ordinal),
                _ => body.Contains("\"choices\"", StringComparison.Ordinal),
            };
            if (looksRight)
            {
                target.Tally?.Answered();
                return null;
            }

            target.Tally?.Failed();
            return $"unexpected answer: {Truncate(body)}";
        }
        catch (HttpRequestException ex)
        {
            target.Tally?.Failed();
            return ex.Message;
        }
    }

    /// <summary>
    /// Drives every target at once, recording nothing, so both servers reach steady state (tiered JIT and dynamic PGO done,
    /// pools and connections filled) before anything is measured. A long-running gateway is what the numbers describe.
    /// </summary>
    public static async Task WarmAsync(IReadOnlyList<LoadTarget> targets, int connectionsEach, TimeSpan duration, CancellationToken cancellationToken)
    {
        var runs = new Task[targets.Count];
        for (int i = 0; i < targets.Count; i++)
        {
            var generator = new LoadGenerator(1024);
            runs[i] = generator.RunAsync(targets[i], connectionsEach, ratePerSecond: 0, duration, TimeSpan.FromMilliseconds(1), [], cancellationToken);
        }

        await Task.WhenAll(runs).ConfigureAwait(false);
    }

    public async Task<RunResult> RunAsync(LoadTarget target, int connections, int ratePerSecond, TimeSpan warmup, TimeSpan duration,
        IReadOnlyList<(string Name, Func<TimeSpan> Cpu)> cpuProbes, CancellationToken cancellationToken)
    {
        Reset(target);
        using var client = CreateClient(connections);
        long start = Stopwatch.GetTimestamp();
        long measureFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        long measureTo = measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);

        // Paced: each connection's slot length, and its first slot offset from the others' by an even share of one.
        long interval = ratePerSecond > 0 ? Stopwatch.Frequency * connections / ratePerSecond : 0;
        var workers = new Task[connections];
        for (int i = 0; i < connections; i++)
        {
            long firstSlot = start + (interval * i / connections);
            workers[i] = Task.Run(() => WorkerAsync(client, target, firstSlot, interval, measureFrom, measureTo, cancellationToken), cancellationToken);
        }

        // CPU of every process over the measured window only.
        await DelayUntilAsync(measureFrom, cancellationToken).ConfigureAwait(false);
        var cpuBefore = new TimeSpan[cpuProbes.Count];
        for (int i = 0; i < cpuProbes.Count; i++)
        {
            cpuBefore[i] = cpuProbes[i].Cpu();
        }

        await DelayUntilAsync(measureTo, cancellationToken).ConfigureAwait(false);
        var cpu = new Dictionary<string, double>(cpuProbes.Count);
        for (int i = 0; i < cpuProbes.Count; i++)
        {
            cpu[cpuProbes[i].Name] = (cpuProbes[i].Cpu() - cpuBefore[i]).TotalSeconds / duration.TotalSeconds * 100;
        }

        // Requests still running finish (they are not counted); a stuck one is cut off by the client timeout.
        await Task.WhenAll(workers).ConfigureAwait(false);

        return Result(target, connections, duration.TotalSeconds, cpu);
    }

    private void Reset(LoadTarget target)
    {
        _latency.Reset();
        _ttft.Reset();
        _gaps.Reset();
        _firstTry.Reset();
        _failedOver.Reset();
        _served = new long[target.Routes?.Count ?? 0];
        _requests = _errors = _measuredErrors = _tokens = _unknownRoute = _skipped = _sent = 0;
        _firstError = null;
    }

    private RunResult Result(LoadTarget target, int connections, double seconds, IReadOnlyDictionary<string, double> cpu)
        => new(target.Label, connections, seconds, Interlocked.Read(ref _requests), Interlocked.Read(ref _errors),
            Interlocked.Read(ref _measuredErrors), _firstError,
            _latency.Summarize(), target.Stream ? _ttft.Summarize() : Percentiles.Empty, target.Stream ? _gaps.Summarize() : Percentiles.Empty,
            Interlocked.Read(ref _tokens), cpu)
        {
            Routes = target.Routes is { } routes
                ? new RouteBreakdown(routes, [.. _served], Interlocked.Read(ref _unknownRoute), _firstTry.Summarize(), _failedOver.Summarize(), Interlocked.Read(ref _skipped))
                : null,
        };

    /// <summary>
    /// Drives two targets in alternating blocks on the same connections and schedule, recording each into its own generator:
    /// an A/B comparison in which both sides sample the same stretch of the machine's life, so a drift in its state (another
    /// tenant, the host, a slow minute) lands on both instead of on whichever ran second.
    /// </summary>
    /// <remarks>
    /// Blocks of <paramref name="block"/> go A B B A A B B A …, so a trend within the run favours neither. A request counts for
    /// the block it starts in, when it starts after the block's first <paramref name="settle"/> (the other target's last requests
    /// and any work they left behind, such as a ledger batch, finish in that time) and succeeds; it is recorded whenever it ends.
    /// Each side's throughput is its recorded requests over its measured time. The <c>qlaud</c> CPU probe of each side is that
    /// process's CPU over the measured stretch per request it was sent then (its idle blocks cost it next to nothing), given as
    /// the percentage that makes <see cref="Report.CpuPerRequest"/> come out right; the shared probes are whole-run averages.
    /// </remarks>
    public static async Task<(RunResult A, RunResult B)> RunInterleavedAsync(LoadGenerator a, LoadGenerator b, LoadTarget targetA, LoadTarget targetB,
        int connections, int ratePerSecond, TimeSpan warmup, TimeSpan duration, TimeSpan block, TimeSpan settle,
        IReadOnlyList<(string Name, Func<TimeSpan> Cpu)> cpuProbesA, IReadOnlyList<(string Name, Func<TimeSpan> Cpu)> cpuProbesB, CancellationToken cancellationToken)
    {
        a.Reset(targetA);
        b.Reset(targetB);
        long blockTicks = (long)(block.TotalSeconds * Stopwatch.Frequency);
        long settleTicks = (long)(settle.TotalSeconds * Stopwatch.Frequency);
        int blocks = Math.Max(2, (int)Math.Round(2 * duration.TotalSeconds / block.TotalSeconds));
        blocks += blocks % 2;

        using var client = CreateClient(connections);
        long start = Stopwatch.GetTimestamp();
        long warmBlocks = (long)Math.Ceiling(warmup.TotalSeconds / block.TotalSeconds);
        long measureFrom = start + (warmBlocks * blockTicks);
        long measureTo = measureFrom + (blocks * blockTicks);

        // Which side a moment belongs to (the warm-up alternates A B A B, the measured blocks go A B B A A B B A), and
        // whether it is inside a block's measured part.
        (LoadGenerator Side, LoadTarget Target, bool Measured) At(long timestamp)
        {
            long k = (timestamp - start) / blockTicks;
            long m = k - warmBlocks;
            bool isB = m < 0 ? (k & 1) == 1 : ((m + 1) >> 1 & 1) == 1;
            long blockStart = start + (k * blockTicks);
            bool measured = timestamp >= measureFrom && timestamp < measureTo && timestamp - blockStart >= settleTicks;
            return isB ? (b, targetB, measured) : (a, targetA, measured);
        }

        long interval = ratePerSecond > 0 ? Stopwatch.Frequency * connections / ratePerSecond : 0;
        var workers = new Task[connections];
        for (int i = 0; i < connections; i++)
        {
            long firstSlot = start + (interval * i / connections);
            workers[i] = Task.Run(async () =>
            {
                byte[] buffer = new byte[64 * 1024];
                long slot = firstSlot;
                while (!cancellationToken.IsCancellationRequested)
                {
                    slot = await WaitForSlotAsync(slot, interval, cancellationToken).ConfigureAwait(false);
                    long begin = Stopwatch.GetTimestamp();
                    if (begin >= measureTo)
                    {
                        return;
                    }

                    var (side, target, measured) = At(begin);
                    if (begin >= measureFrom)
                    {
                        Interlocked.Increment(ref side._sent);
                    }

                    await side.SendAsync(client, target, buffer, begin, measured, long.MaxValue, cancellationToken).ConfigureAwait(false);
                }
            }, cancellationToken);
        }

        // Every probe of both sides, read at one moment, keyed "a:name" and "b:name".
        Dictionary<string, TimeSpan> ReadCpu()
        {
            var read = new Dictionary<string, TimeSpan>();
            foreach (var (prefix, probes) in (ReadOnlySpan<(string, IReadOnlyList<(string Name, Func<TimeSpan> Cpu)>)>)[("a:", cpuProbesA), ("b:", cpuProbesB)])
            {
                foreach (var (name, cpu) in probes)
                {
                    read[prefix + name] = cpu();
                }
            }

            return read;
        }

        await DelayUntilAsync(measureFrom, cancellationToken).ConfigureAwait(false);
        var before = ReadCpu();
        await DelayUntilAsync(measureTo, cancellationToken).ConfigureAwait(false);
        var after = ReadCpu();
        await Task.WhenAll(workers).ConfigureAwait(false);
        double wholeSeconds = (measureTo - measureFrom) / (double)Stopwatch.Frequency;
        double sideSeconds = blocks / 2 * (block - settle).TotalSeconds;
        RunResult Result(LoadGenerator side, LoadTarget target, string prefix, IReadOnlyList<(string Name, Func<TimeSpan> Cpu)> probes)
        {
            long recorded = Interlocked.Read(ref side._requests);
            long sent = Math.Max(1, Interlocked.Read(ref side._sent));
            var cpu = new Dictionary<string, double>(probes.Count);
            foreach (var (name, _) in probes)
            {
                double seconds = (after[prefix + name] - before[prefix + name]).TotalSeconds;
                cpu[name] = name == "qlaud"
                    ? seconds / sent * recorded / sideSeconds * 100
                    : seconds / wholeSeconds * 100;
            }

            return side.Result(target, connections, sideSeconds, cpu);
        }

        return (Result(a, targetA, "a:", cpuProbesA), Result(b, targetB, "b:", cpuProbesB));
    }

    /// <summary>
    /// Drives several targets in turns on the same connections and schedule, each recorded into its own generator: rounds
    /// of one block per target, in order and then in reverse (A B C D E E D C B A A B …), so every target samples the same
    /// stretch of the machine's life and a trend within the run favours none.
    /// </summary>
    /// <remarks>
    /// As in <see cref="RunInterleavedAsync"/>: a request counts for the block it starts in, once the block's first
    /// <paramref name="settle"/> is over. <paramref name="hopProbes"/>[i] is the CPU of the process target i goes through (null
    /// for none); it is reported as <c>hop</c>, that process's CPU over the whole measured stretch per request it was sent, as
    /// the percentage that makes <see cref="Report.CpuPerRequest(RunResult, string)"/> come out right. The shared probes are
    /// whole-run averages.
    /// </remarks>
    public static Task<RunResult[]> RunRoundsAsync(IReadOnlyList<LoadGenerator> generators, IReadOnlyList<LoadTarget> targets,
        int connections, int ratePerSecond, TimeSpan warmup, TimeSpan duration, TimeSpan block, TimeSpan settle,
        IReadOnlyList<Func<TimeSpan>?> hopProbes, IReadOnlyList<(string Name, Func<TimeSpan> Cpu)> sharedProbes, CancellationToken cancellationToken)
    {
        var perTarget = new (string Name, Func<TimeSpan> Cpu)[hopProbes.Count][];
        for (int i = 0; i < perTarget.Length; i++)
        {
            perTarget[i] = hopProbes[i] is { } hop ? [(Report.Hop, hop)] : [];
        }

        return RunRoundsAsync(generators, targets, connections, ratePerSecond, warmup, duration, block, settle, perTarget, sharedProbes, cancellationToken);
    }

    /// <summary>
    /// <see cref="RunRoundsAsync(IReadOnlyList{LoadGenerator}, IReadOnlyList{LoadTarget}, int, int, TimeSpan, TimeSpan, TimeSpan, TimeSpan, IReadOnlyList{Func{TimeSpan}?}, IReadOnlyList{ValueTuple{string, Func{TimeSpan}}}, CancellationToken)"/>
    /// with any number of probes per target (<paramref name="targetProbes"/>[i]: the processes target i goes through, such as
    /// its gateways and its database), each reported under its own name as CPU over the measured stretch per request sent.
    /// </summary>
    public static async Task<RunResult[]> RunRoundsAsync(IReadOnlyList<LoadGenerator> generators, IReadOnlyList<LoadTarget> targets,
        int connections, int ratePerSecond, TimeSpan warmup, TimeSpan duration, TimeSpan block, TimeSpan settle,
        IReadOnlyList<(string Name, Func<TimeSpan> Cpu)[]> targetProbes, IReadOnlyList<(string Name, Func<TimeSpan> Cpu)> sharedProbes, CancellationToken cancellationToken)
    {
        int n = targets.Count;
        for (int i = 0; i < n; i++)
        {
            generators[i].Reset(targets[i]);
        }

        long blockTicks = (long)(block.TotalSeconds * Stopwatch.Frequency);
        long settleTicks = (long)(settle.TotalSeconds * Stopwatch.Frequency);
        int rounds = Math.Max(2, (int)Math.Round(duration.TotalSeconds / block.TotalSeconds));
        rounds += rounds % 2;
        long warmBlocks = Math.Max(n, (long)Math.Ceiling(warmup.TotalSeconds / block.TotalSeconds));

        using var client = CreateClient(connections);
        long start = Stopwatch.GetTimestamp();
        long measureFrom = start + (warmBlocks * blockTicks);
        long measureTo = measureFrom + (rounds * n * blockTicks);

        (int Target, bool Measured) At(long timestamp)
        {
            long k = (timestamp - start) / blockTicks;
            long m = k - warmBlocks;
            int target;
            if (m < 0)
            {
                target = (int)(k % n);
            }
            else
            {
                long round = m / n;
                int position = (int)(m % n);
                target = round % 2 == 0 ? position : n - 1 - position;
            }

            bool measured = timestamp >= measureFrom && timestamp < measureTo && timestamp - (start + (k * blockTicks)) >= settleTicks;
            return (target, measured);
        }

        long interval = ratePerSecond > 0 ? Stopwatch.Frequency * connections / ratePerSecond : 0;
        var workers = new Task[connections];
        for (int i = 0; i < connections; i++)
        {
            long firstSlot = start + (interval * i / connections);
            workers[i] = Task.Run(async () =>
            {
                byte[] buffer = new byte[64 * 1024];
                long slot = firstSlot;
                while (!cancellationToken.IsCancellationRequested)
                {
                    slot = await WaitForSlotAsync(slot, interval, cancellationToken).ConfigureAwait(false);
                    long begin = Stopwatch.GetTimestamp();
                    if (begin >= measureTo)
                    {
                        return;
                    }

                    var (index, measured) = At(begin);
                    var side = generators[index];
                    if (begin >= measureFrom)
                    {
                        Interlocked.Increment(ref side._sent);
                    }

                    await side.SendAsync(client, targets[index], buffer, begin, measured, long.MaxValue, cancellationToken).ConfigureAwait(false);
                }
            }, cancellationToken);
        }

        (TimeSpan[][] Hops, TimeSpan[] Shared) Read()
        {
            var hops = new TimeSpan[n][];
            for (int i = 0; i < n; i++)
            {
                hops[i] = new TimeSpan[targetProbes[i].Length];
                for (int p = 0; p < hops[i].Length; p++)
                {
                    hops[i][p] = targetProbes[i][p].Cpu();
                }
            }

            var shared = new TimeSpan[sharedProbes.Count];
            for (int i = 0; i < shared.Length; i++)
            {
                shared[i] = sharedProbes[i].Cpu();
            }

            return (hops, shared);
        }

        await DelayUntilAsync(measureFrom, cancellationToken).ConfigureAwait(false);
        var before = Read();
        await DelayUntilAsync(measureTo, cancellationToken).ConfigureAwait(false);
        var after = Read();
        await Task.WhenAll(workers).ConfigureAwait(false);

        double wholeSeconds = (measureTo - measureFrom) / (double)Stopwatch.Frequency;
        double sideSeconds = rounds * (block - settle).TotalSeconds;
        var results = new RunResult[n];
        for (int i = 0; i < n; i++)
        {
            var side = generators[i];
            long recorded = Interlocked.Read(ref side._requests);
            long sent = Math.Max(1, Interlocked.Read(ref side._sent));
            var cpu = new Dictionary<string, double>(sharedProbes.Count + 1);
            for (int p = 0; p < sharedProbes.Count; p++)
            {
                cpu[sharedProbes[p].Name] = (after.Shared[p] - before.Shared[p]).TotalSeconds / wholeSeconds * 100;
            }

            for (int p = 0; p < targetProbes[i].Length; p++)
            {
                cpu[targetProbes[i][p].Name] = (after.Hops[i][p] - before.Hops[i][p]).TotalSeconds / sent * recorded / sideSeconds * 100;
            }

            results[i] = side.Result(targets[i], connections, sideSeconds, cpu);
        }

        return results;
    }

    /// <param name="slot">When the first request starts (paced only).</param>
    /// <param name="interval">Ticks between this connection's requests; 0 sends them back to back.</param>
    private async Task WorkerAsync(HttpClient client, LoadTarget target, long slot, long interval, long measureFrom, long measureTo, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[64 * 1024];
        while (!cancellationToken.IsCancellationRequested)
        {
            slot = await WaitForSlotAsync(slot, interval, cancellationToken).ConfigureAwait(false);
            long begin = Stopwatch.GetTimestamp();
            if (begin >= measureTo)
            {
                return;
            }

            await SendAsync(client, target, buffer, begin, begin >= measureFrom, measureTo, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Paced: waits for <paramref name="slot"/> and returns the next one. Back to back (<paramref name="interval"/> 0): returns at once.</summary>
    private static async Task<long> WaitForSlotAsync(long slot, long interval, CancellationToken cancellationToken)
    {
        if (interval <= 0)
        {
            return slot;
        }

        await DelayUntilAsync(slot, cancellationToken).ConfigureAwait(false);
        long now = Stopwatch.GetTimestamp();
        return now - slot > interval ? now + interval : slot + interval;
    }

    /// <summary>Sends one request started at <paramref name="begin"/> and reads its answer; when <paramref name="measured"/>,
    /// records it if it also ends by <paramref name="measureTo"/>.</summary>
    private async Task SendAsync(HttpClient client, LoadTarget target, byte[] buffer, long begin, bool measured, long measureTo, CancellationToken cancellationToken)
    {
        try
        {
            using var request = CreateRequest(target);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                target.Tally?.Failed();
                int read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                Fail($"HTTP {(int)response.StatusCode}: {Truncate(System.Text.Encoding.UTF8.GetString(buffer, 0, read))}", measured, measureTo);
                return;
            }

            if (target.Stream)
            {
                if (!await ReadStreamAsync(body, buffer, target.Tokens, begin, measured, measureTo, cancellationToken).ConfigureAwait(false))
                {
                    target.Tally?.Failed();
                    Fail("HTTP 200, but the stream ended with an error event or without its final event", measured, measureTo);
                    return;
                }
            }
            else
            {
                while (await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0)
                {
                }
            }

            long end = Stopwatch.GetTimestamp();
            target.Tally?.Answered();
            if (measured && end <= measureTo)
            {
                _latency.Record(end - begin);
                Interlocked.Increment(ref _requests);
                if (target.Routes is { } routes)
                {
                    Classify(response, routes, end - begin);
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            target.Tally?.Failed();
            Fail(ex.GetType().Name + ": " + ex.Message, measured, measureTo);
        }
    }

    /// <summary>Counts a measured success by the route that served it and how many attempts it took (the gateway's headers).</summary>
    private void Classify(HttpResponseMessage response, IReadOnlyList<string> routes, long ticks)
    {
        // NonValidated: the raw header strings, no parsing and no allocation for a single value.
        var headers = response.Headers.NonValidated;
        int route = -1;
        if (headers.TryGetValues("x-qlaud-route", out var names))
        {
            string name = names.ToString();
            for (int i = 0; i < routes.Count; i++)
            {
                if (string.Equals(routes[i], name, StringComparison.Ordinal))
                {
                    route = i;
                    break;
                }
            }
        }

        int attempts = headers.TryGetValues("x-qlaud-attempts", out var values)
            && int.TryParse(values.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int parsed) ? parsed : 0;

        if (route < 0)
        {
            Interlocked.Increment(ref _unknownRoute);
        }
        else
        {
            Interlocked.Increment(ref _served[route]);
        }

        if (attempts > 1)
        {
            _failedOver.Record(ticks);
        }
        else if (route == 0)
        {
            _firstTry.Record(ticks);
        }
        else if (route > 0)
        {
            Interlocked.Increment(ref _skipped);
        }
    }

    /// <summary>
    /// Reads a server-sent event stream, timing every token-bearing event as it arrives: the first one gives the time to
    /// first token, the following ones the gaps between chunks. Events split across reads are reassembled.
    /// </summary>
    /// <returns>Whether the stream ended as a complete answer does: with its final event (<c>[DONE]</c>, <c>message_stop</c>)
    /// and no error event (a gateway reports a failure after the headers as an error event in a 200 response).</returns>
    private async Task<bool> ReadStreamAsync(Stream body, byte[] buffer, TokenDialect tokens, long begin, bool measured, long measureTo, CancellationToken cancellationToken)
    {
        int filled = 0;
        long previousToken = 0;
        bool finished = false, failed = false;
        while (true)
        {
            if (filled == buffer.Length)
            {
                throw new IOException("An event larger than the read buffer.");
            }

            int read = await body.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return finished && !failed;
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

                if (IsToken(buffer.AsSpan(consumed, end), tokens))
                {
                    if (measured && now <= measureTo)
                    {
                        if (previousToken == 0)
                        {
                            _ttft.Record(now - begin);
                        }
                        else
                        {
                            _gaps.Record(now - previousToken);
                        }

                        Interlocked.Increment(ref _tokens);
                    }

                    previousToken = now;
                }
                else
                {
                    var sseEvent = buffer.AsSpan(consumed, end);
                    finished |= IsFinal(sseEvent, tokens);
                    failed |= IsError(sseEvent, tokens);
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

    private static bool IsToken(ReadOnlySpan<byte> sseEvent, TokenDialect tokens)
    {
        if (tokens == TokenDialect.Anthropic)
        {
            return sseEvent.IndexOf("content_block_delta"u8) >= 0;
        }

        var marker = "\"content\":\""u8;
        int at = sseEvent.IndexOf(marker);
        return at >= 0 && at + marker.Length < sseEvent.Length && sseEvent[at + marker.Length] != (byte)'"';
    }

    private static bool IsFinal(ReadOnlySpan<byte> sseEvent, TokenDialect tokens)
        => tokens == TokenDialect.Anthropic ? sseEvent.StartsWith("event: message_stop"u8) : sseEvent.StartsWith("data: [DONE]"u8);

    private static bool IsError(ReadOnlySpan<byte> sseEvent, TokenDialect tokens)
        => tokens == TokenDialect.Anthropic ? sseEvent.StartsWith("event: error"u8) : sseEvent.StartsWith("data: {\"error\""u8);

    /// <summary>Counts a failed request; one that started and ended inside the measured window also counts against the success rate.</summary>
    private void Fail(string message, bool measured, long measureTo)
    {
        Interlocked.Increment(ref _errors);
        if (measured && Stopwatch.GetTimestamp() <= measureTo)
        {
            Interlocked.Increment(ref _measuredErrors);
        }

        Interlocked.CompareExchange(ref _firstError, message, null);
    }

    private static async Task DelayUntilAsync(long timestamp, CancellationToken cancellationToken)
    {
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }
    }

    private static HttpClient CreateClient(int connections) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = connections,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        UseProxy = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
    })
    {
        Timeout = TimeSpan.FromSeconds(30),
        DefaultRequestVersion = HttpVersion.Version11,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    private static HttpRequestMessage CreateRequest(LoadTarget target)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, target.Nodes?.Next() ?? target.Uri) { Content = new ByteArrayContent(target.Body) };
        request.Content.Headers.ContentType = Json;
        foreach (var (name, value) in target.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        if (target.Keys is { } keys)
        {
            request.Headers.TryAddWithoutValidation(keys.Header, keys.Next());
        }

        return request;
    }

    private static string Truncate(string text) => text.Length <= 300 ? text : text[..300] + "…";
}
