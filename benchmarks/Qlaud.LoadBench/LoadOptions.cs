using System.Globalization;

namespace Qlaud.LoadBench;

/// <summary>One load setting: concurrent connections, how fast they send, and how slow the fake upstream is.</summary>
/// <param name="Name">Names the results file: <c>load-&lt;name&gt;.md</c>.</param>
/// <param name="Connections">Concurrent connections (each runs one request at a time).</param>
/// <param name="UpstreamLatencyMs">The fake's delay before response headers.</param>
/// <param name="ChunkDelayMs">The fake's delay between streamed chunks.</param>
/// <param name="RatePerSecond">Requests per second over all connections, evenly spaced; 0 sends back to back (as fast as the
/// answers come).</param>
internal sealed record Profile(string Name, int Connections, int UpstreamLatencyMs, int ChunkDelayMs, int RatePerSecond = 0)
{
    /// <summary>Many clients, a provider with realistic latency: is throughput through Qlaud close to direct?</summary>
    public static Profile Concurrent { get; } = new("c64-lat20", 64, 20, 2);

    /// <summary>One client, an instant provider: how much latency does one hop through Qlaud add?</summary>
    public static Profile Serial { get; } = new("c1-lat0", 1, 0, 0);

    /// <summary>
    /// A steady 1000 requests per second from 4 connections to an instant provider: how much latency does Qlaud add when the
    /// machine has room to spare? (Back to back, <see cref="Serial"/> keeps both cores busy with the load generator, the fake
    /// and the gateway, so any background work of the gateway, the ledger writer's included, shows as queueing.)
    /// </summary>
    public static Profile Paced { get; } = new("c4-r1000-lat0", 4, 0, 0, 1000);

    /// <summary>
    /// One model with two routes, the first failing every other request with a 503: what do callers see, and what does a
    /// failover cost them? Opt-in (not part of <c>all</c>): it starts three sets of servers and takes longer.
    /// </summary>
    public static Profile Failover { get; } = new("failover", 16, 20, 2);

    /// <summary>
    /// Paced interactive traffic (16 connections, 200 requests/s, 20 ms upstream) alone, with a large batch running, and alone
    /// again: the batch's requests per second and what it does to interactive p99. Opt-in (not part of <c>all</c>).
    /// </summary>
    public static Profile Batch { get; } = new("batch", 16, 20, 0, 200);
}

/// <summary>The command line.</summary>
internal sealed record LoadOptions
{
    public const string Usage = """
        Qlaud.LoadBench: gateway overhead under load (fake provider and Qlaud.Server as their own processes).

          --profile NAME[,NAME…]      a preset: c64, c1, paced, all (the default: c64, c1, then paced) or failover
                                        c64 = 64 connections, upstream latency 20 ms, 2 ms between chunks
                                        c1  = 1 connection, upstream latency 0 ms, no delay between chunks
                                        paced = 4 connections sending 1000 requests/s in all, evenly spaced,
                                          upstream latency 0 ms, no delay between chunks
                                        failover (opt-in, not in all) = one model with two routes through Qlaud,
                                          route A failing every other request with 503, route B healthy; 16
                                          connections, 20 ms, 2 ms; three gateway runs: A healthy (baseline),
                                          A failing with the default circuit breaker, A failing with the breaker
                                          off; mixes nonstream,stream unless --mix says otherwise. Use
                                          --duration 30 or more so the default breaker's 30 s cycle shows.
                                        batch (opt-in) = 16 connections sending 200 non-streamed requests/s
                                          through Qlaud, upstream latency 20 ms: alone, while a 20000-request
                                          batch runs (its req/s measured), and alone again
          --connections N             a custom profile instead of the presets, with
          --upstream-latency-ms N       the fake's delay before headers (default 20) and
          --chunk-delay-ms N            its delay between streamed chunks (default 2), and
          --rate N                      requests per second over all connections (default: back to back)
          --mix LIST                  nonstream,stream,translate (default all three; failover: nonstream,stream)
          --duration S                measured seconds per run (default 8)
          --prewarm S                 seconds of all traffic at once after the servers start, unmeasured (default 8)
          --warmup S                  warm-up seconds before each run (default 2)
          --answer-chars N            answer length; streamed in 8-character chunks (default 240: 30 chunks)
          --gateway-log-level LEVEL   Logging:LogLevel:Default of the gateway (default Warning)
          --gateway-env KEY=VALUE     an extra environment variable for the gateway only (repeatable)
          --compare-metering          also start a second gateway with Qlaud:Metering:Enabled=false (its own
                                        database) and run every mix through both: adds the metering table
                                        (throughput ratio, added p50/p99, CPU per request, metering on − off)
          --interleave S              with --compare-metering: each on/off pair is one run in which the two
                                        gateways take turns of S seconds (A B B A …, default 1), each side
                                        measured for --duration; 0 runs them one after the other instead
          --repeat N                  run each Qlaud row N times (1–20, default 1); with --compare-metering
                                        the pairs alternate which goes first, and the table gives medians
          --baselines                 one interleaved run per mix over every target: direct, the naive .NET proxy
                                        (benchmarks/Qlaud.NaiveProxy), YARP as a minimal forwarder
                                        (benchmarks/Qlaud.YarpProxy), Qlaud with --keys end-user keys, and Qlaud
                                        with metering off; turns of --interleave S (default 1) per target,
                                        A…E then E…A; adds CPU per request of each hop, start-up time and RSS
          --keys N                    with --baselines or --storage: end-user keys minted on each Qlaud gateway (with caps)
                                        and used round-robin, one per request (default 1000; 0 = master key)
          --storage sqlite|postgres|both
                                      one interleaved run per mix over direct and Qlaud on each storage provider,
                                        metering on and off, driven with --keys capped end-user keys (turns of
                                        --interleave S, A…E then E…A); PostgreSQL is a throwaway server this run
                                        starts (initdb, loopback port, stopped at the end), one database per
                                        gateway set-up; reports gateway and database CPU per request and checks
                                        the ledger (GET /v1/usage) against the answered requests after every run
          --nodes N                   with --storage postgres or both: also N Qlaud.Server processes on one
                                        database (metering on), the load generator sending each request to the
                                        next node in turn (no load balancer process); in profiles with at least
                                        N connections (1–8, default 1)
          --burst N                   instead of the profiles: N streams opened at once against direct, the naive
                                        proxy, YARP and Qlaud in turn (--repeat rounds, the order reversed every
                                        other round); every stream's text checked; TTFT and memory per stream
          --burst-chunks N            chunks per burst stream (default 200)
          --burst-chunk-delay-ms N    the fake's delay between them (default 20)
          --results DIR               where load-<profile>.md files go (default benchmarks/results)
          --tag NAME                  names a variant: writes load-<profile>-<NAME>.md
          --no-build                  use the Release builds already on disk
        """;

    public IReadOnlyList<Profile> Profiles { get; init; } = [Profile.Concurrent, Profile.Serial, Profile.Paced];

    public IReadOnlyList<Mix> Mixes { get; init; } = [Mix.NonStream, Mix.Stream, Mix.Translate];

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(8);

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Unmeasured traffic after start-up: the JIT's tiering and dynamic PGO take seconds on a busy 2-core machine.</summary>
    public TimeSpan Prewarm { get; init; } = TimeSpan.FromSeconds(8);

    public int AnswerChars { get; init; } = 240;

    public int ChunkSize { get; init; } = 8;

    public string GatewayLogLevel { get; init; } = "Warning";

    public string? ResultsDirectory { get; init; }

    /// <summary>A variant's name (a setting under test), added to the results file name and heading.</summary>
    public string? Tag { get; init; }

    /// <summary>Extra environment variables for the gateway process only (runtime or Qlaud settings under test).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> GatewayEnvironment { get; init; } = [];

    public bool Build { get; init; } = true;

    /// <summary>Runs every mix through a second gateway with metering off too, and reports the difference.</summary>
    public bool CompareMetering { get; init; }

    /// <summary>Runs every target (direct, naive proxy, YARP, Qlaud, Qlaud without metering) in one interleaved run per mix.</summary>
    public bool Baselines { get; init; }

    /// <summary>With <see cref="Baselines"/>: end-user keys minted on each gateway and used round-robin (0: the master key).</summary>
    public int Keys { get; init; } = 1000;

    /// <summary>The storage providers a <c>--storage</c> run compares; <see cref="StorageChoice.None"/> runs the other scenarios.</summary>
    public StorageChoice Storage { get; init; }

    /// <summary>With <see cref="Storage"/> including PostgreSQL: gateway processes on one database in the multi-node set-up (1: none).</summary>
    public int Nodes { get; init; } = 1;

    /// <summary>Streams opened at once per target (<c>--burst</c>); 0 runs the profiles instead.</summary>
    public int Burst { get; init; }

    public int BurstChunks { get; init; } = 200;

    public int BurstChunkDelayMs { get; init; } = 20;

    /// <summary>How many times each Qlaud row runs.</summary>
    public int Repeat { get; init; } = 1;

    /// <summary>With <see cref="CompareMetering"/>: the length of each gateway's turn when the two are driven in alternating
    /// blocks within one run; zero runs them one after the other instead.</summary>
    public TimeSpan Interleave { get; init; } = TimeSpan.FromSeconds(1);

    public static LoadOptions Parse(IReadOnlyList<string> args)
    {
        var options = new LoadOptions();
        int? connections = null, latency = null, chunkDelay = null, rate = null;
        bool mixesGiven = false;
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            if (name == "--no-build")
            {
                options = options with { Build = false };
                continue;
            }

            if (name == "--baselines")
            {
                options = options with { Baselines = true };
                continue;
            }

            if (name == "--compare-metering")
            {
                options = options with { CompareMetering = true };
                continue;
            }

            if (i + 1 >= args.Count)
            {
                throw new FormatException($"Missing value for {name}.");
            }

            string value = args[++i];
            switch (name)
            {
                case "--profile":
                    options = options with
                    {
                        Profiles = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).SelectMany(static part => part switch
                        {
                            "c64" => (Profile[])[Profile.Concurrent],
                            "c1" => [Profile.Serial],
                            "paced" => [Profile.Paced],
                            "all" => [Profile.Concurrent, Profile.Serial, Profile.Paced],
                            "failover" => [Profile.Failover],
                            "batch" => [Profile.Batch],
                            _ => throw new FormatException($"--profile is c64, c1, paced, all, failover or batch (or a comma-separated list), not '{part}'."),
                        }).Distinct().ToArray(),
                    };
                    break;
                case "--connections":
                    connections = Int(name, value, 1, 4096);
                    break;
                case "--upstream-latency-ms":
                    latency = Int(name, value, 0, 60_000);
                    break;
                case "--chunk-delay-ms":
                    chunkDelay = Int(name, value, 0, 10_000);
                    break;
                case "--rate":
                    rate = Int(name, value, 1, 1_000_000);
                    break;
                case "--mix":
                    options = options with { Mixes = ParseMixes(value) };
                    mixesGiven = true;
                    break;
                case "--duration":
                    options = options with { Duration = TimeSpan.FromSeconds(Int(name, value, 1, 600)) };
                    break;
                case "--prewarm":
                    options = options with { Prewarm = TimeSpan.FromSeconds(Int(name, value, 0, 600)) };
                    break;
                case "--warmup":
                    options = options with { Warmup = TimeSpan.FromSeconds(Int(name, value, 0, 600)) };
                    break;
                case "--answer-chars":
                    options = options with { AnswerChars = Int(name, value, 1, 1_000_000) };
                    break;
                case "--gateway-log-level":
                    options = options with { GatewayLogLevel = value };
                    break;
                case "--gateway-env":
                    int equals = value.IndexOf('=', StringComparison.Ordinal);
                    if (equals <= 0)
                    {
                        throw new FormatException($"--gateway-env takes KEY=VALUE, not '{value}'.");
                    }

                    options = options with { GatewayEnvironment = [.. options.GatewayEnvironment, new(value[..equals], value[(equals + 1)..])] };
                    break;
                case "--interleave":
                    options = options with { Interleave = TimeSpan.FromSeconds(Int(name, value, 0, 60)) };
                    break;
                case "--repeat":
                    options = options with { Repeat = Int(name, value, 1, 20) };
                    break;
                case "--burst":
                    options = options with { Burst = Int(name, value, 1, 20_000) };
                    break;
                case "--burst-chunks":
                    options = options with { BurstChunks = Int(name, value, 1, 100_000) };
                    break;
                case "--burst-chunk-delay-ms":
                    options = options with { BurstChunkDelayMs = Int(name, value, 0, 10_000) };
                    break;
                case "--keys":
                    options = options with { Keys = Int(name, value, 0, 100_000) };
                    break;
                case "--storage":
                    options = options with
                    {
                        Storage = value switch
                        {
                            "sqlite" => StorageChoice.Sqlite,
                            "postgres" => StorageChoice.Postgres,
                            "both" => StorageChoice.Both,
                            _ => throw new FormatException($"--storage is sqlite, postgres or both, not '{value}'."),
                        },
                    };
                    break;
                case "--nodes":
                    options = options with { Nodes = Int(name, value, 1, 8) };
                    break;
                case "--tag":
                    options = options with { Tag = value };
                    break;
                case "--results":
                    options = options with { ResultsDirectory = value };
                    break;
                default:
                    throw new FormatException($"Unknown option {name}.");
            }
        }

        if (connections is { } c)
        {
            int l = latency ?? 20;
            string name = rate is { } r ? $"c{c}-r{r}-lat{l}" : $"c{c}-lat{l}";
            options = options with { Profiles = [new Profile(name, c, l, chunkDelay ?? 2, rate ?? 0)] };
        }
        else if (latency is not null || chunkDelay is not null || rate is not null)
        {
            throw new FormatException("--upstream-latency-ms, --chunk-delay-ms and --rate go with --connections (a custom profile).");
        }

        if (options.Baselines && (options.CompareMetering || options.Profiles.Contains(Profile.Failover)))
        {
            throw new FormatException("--baselines includes the metering-off gateway already, and does not go with --compare-metering or the failover profile.");
        }

        if (options.Storage != StorageChoice.None
            && (options.Baselines || options.CompareMetering || options.Burst > 0 || options.Profiles.Contains(Profile.Failover) || options.Profiles.Contains(Profile.Batch)))
        {
            throw new FormatException("--storage runs its own metering pairs: it does not go with --baselines, --compare-metering, --burst or the failover and batch profiles.");
        }

        if (options.Nodes > 1 && !options.Storage.HasFlag(StorageChoice.Postgres))
        {
            throw new FormatException("--nodes goes with --storage postgres or --storage both: several nodes share one PostgreSQL database.");
        }

        if (options.Profiles is [var only] && only == Profile.Failover && !mixesGiven)
        {
            options = options with { Mixes = [Mix.NonStream, Mix.Stream] };
        }

        return options;
    }

    private static Mix[] ParseMixes(string value)
    {
        var parts = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var mixes = new Mix[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            mixes[i] = parts[i] switch
            {
                "nonstream" => Mix.NonStream,
                "stream" => Mix.Stream,
                "translate" => Mix.Translate,
                _ => throw new FormatException($"--mix takes nonstream, stream and translate, not '{parts[i]}'."),
            };
        }

        return mixes;
    }

    private static int Int(string name, string value, int min, int max)
        => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int number) && number >= min && number <= max
            ? number
            : throw new FormatException($"{name} needs a whole number from {min} to {max}, not '{value}'.");
}
