using System.Globalization;
using System.Runtime.InteropServices;

namespace Qlaud.FakeProvider;

/// <summary>
/// Runs the fake provider as a process for load benchmarks and end-to-end tests:
/// <c>--urls http://127.0.0.1:9100 --latency-ms 20 --chunk-size 8 --chunk-delay-ms 2 [--text "…"] [--record] [--control]
/// [--fail-every N [--fail-status 503]]</c>; <c>--control</c> serves the <see cref="FakeControl"/> endpoints for end-to-end tests. Prints <c>fake-provider listening on URL</c> once listening and runs until Ctrl+C or SIGTERM.
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: Qlaud.FakeProvider [--urls http://127.0.0.1:PORT | --port PORT] [--latency-ms N] " +
        "[--chunk-size N] [--chunk-delay-ms N] [--text TEXT] [--record] [--control] [--fail-every N [--fail-status STATUS]]";

    public static async Task<int> Main(string[] args)
    {
        ProcessArguments arguments;
        try
        {
            arguments = ParseArguments(args);
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        await using var server = await StartAsync(arguments);
        await Console.Out.WriteLineAsync($"fake-provider listening on {server.BaseUri.GetLeftPart(UriPartial.Authority)}");

        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, stop.Token);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM: fall through to a clean shutdown.
        }

        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    /// <summary>Starts the server; with <c>--fail-every</c> a <see cref="FakeResponders.FailEvery"/> responder answers instead of the default reply.</summary>
    internal static async Task<FakeProviderServer> StartAsync(ProcessArguments arguments, CancellationToken cancellationToken = default)
    {
        var server = await FakeProviderServer.StartAsync(arguments.Options, cancellationToken);
        if (arguments.FailEvery is { } every)
        {
            server.Responder = FakeResponders.FailEvery(every, FakeReply.Error(arguments.FailStatus), server.DefaultReply);
        }

        return server;
    }

    /// <summary>Parses the command line; recording is off unless <c>--record</c> is given.</summary>
    internal static ProcessArguments ParseArguments(IReadOnlyList<string> args)
    {
        var options = new FakeProviderOptions { RecordRequests = false };
        int? failEvery = null, failStatus = null;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name == "--record")
            {
                options = options with { RecordRequests = true };
                continue;
            }

            if (name == "--control")
            {
                options = options with { ControlEndpoints = true };
                continue;
            }

            if (i + 1 >= args.Count)
            {
                throw new FormatException($"Missing value for {name}.");
            }

            var value = args[++i];
            if (name == "--fail-every")
            {
                failEvery = ParseInt(name, value, 1, int.MaxValue);
                continue;
            }

            if (name == "--fail-status")
            {
                failStatus = ParseInt(name, value, 400, 599);
                continue;
            }

            options = name switch
            {
                "--urls" => options with { Port = ParseLoopbackUrl(value) },
                "--port" => options with { Port = ParseInt(name, value, 0, 65535) },
                "--latency-ms" => options with { Latency = TimeSpan.FromMilliseconds(ParseInt(name, value, 0, int.MaxValue)) },
                "--chunk-size" => options with { ChunkSize = ParseInt(name, value, 1, int.MaxValue) },
                "--chunk-delay-ms" => options with { ChunkDelay = TimeSpan.FromMilliseconds(ParseInt(name, value, 0, int.MaxValue)) },
                "--text" => options with { DefaultText = value },
                _ => throw new FormatException($"Unknown option {name}."),
            };
        }

        if (failStatus is not null && failEvery is null)
        {
            throw new FormatException("--fail-status goes with --fail-every.");
        }

        return new ProcessArguments(options, failEvery, failStatus ?? 503);
    }

    private static int ParseLoopbackUrl(string value)
    {
        // One URL; the fake only ever listens on the loopback interface.
        var first = value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        if (!Uri.TryCreate(first, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
        {
            throw new FormatException($"--urls needs an http URL such as http://127.0.0.1:9100, not '{value}'.");
        }

        if (!uri.IsLoopback)
        {
            throw new FormatException($"--urls must name a loopback address (127.0.0.1 or localhost), not '{uri.Host}'.");
        }

        return uri.Port;
    }

    private static int ParseInt(string name, string value, int min, int max)
        => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) && number >= min && number <= max
            ? number
            : throw new FormatException($"{name} needs a whole number from {min} to {max}, not '{value}'.");
}
