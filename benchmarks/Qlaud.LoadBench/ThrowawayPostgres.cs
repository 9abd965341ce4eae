using System.Diagnostics;
using System.Globalization;

namespace Qlaud.LoadBench;

/// <summary>
/// A PostgreSQL server for one benchmark run, started the way the tests start theirs (<c>tests/Shared/Postgres</c>):
/// <c>initdb</c> into a temporary folder (as the <c>postgres</c> user when run as root, which PostgreSQL refuses), <c>pg_ctl
/// start</c> on a free loopback port, and <c>pg_ctl stop</c> plus deleting the folder on <see cref="Dispose"/>, at process
/// exit, and, should this process be killed, from a watchdog shell that outlives it.
/// </summary>
/// <remarks>
/// Settings: <c>synchronous_commit=off</c> (a commit does not wait for its WAL flush: the counterpart of the gateway's SQLite
/// in WAL mode with <c>synchronous=NORMAL</c>; <c>fsync</c> stays on), <c>max_connections=400</c>, the rest PostgreSQL's
/// defaults. The binaries come from <c>PATH</c> or <c>/usr/lib/postgresql/*/bin</c>.
/// </remarks>
internal sealed class ThrowawayPostgres : IDisposable
{
    private readonly string _folder;
    private readonly string _data;
    private readonly string _pgCtl;
    private readonly bool _asPostgres;
    private int _disposed;

    private ThrowawayPostgres(string folder, string pgCtl, bool asPostgres, int port, string version)
    {
        _folder = folder;
        _data = Path.Combine(folder, "data");
        _pgCtl = pgCtl;
        _asPostgres = asPostgres;
        Port = port;
        Version = version;
    }

    public int Port { get; }

    /// <summary>What <c>postgres --version</c> printed (<c>postgres (PostgreSQL) 15.x</c>).</summary>
    public string Version { get; }

    public static async Task<ThrowawayPostgres> StartAsync(CancellationToken cancellationToken)
    {
        string initdb = FindBinary("initdb");
        string pgCtl = FindBinary("pg_ctl");
        string version = (await RunAsync(FindBinary("postgres"), ["--version"], false, cancellationToken)).Trim();
        bool root = Environment.UserName == "root";
        string folder = Path.Combine(Path.GetTempPath(), $"qlaud-loadbench-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        int port = Program.FreePort();
        var server = new ThrowawayPostgres(folder, pgCtl, root, port, version);
        try
        {
            if (root)
            {
                await RunAsync("chown", ["postgres", folder], false, cancellationToken);
            }

            // The watchdog first, so that even a kill between here and the end of start-up stops the server and deletes the folder.
            string stop = $"{(root ? "runuser -u postgres -- " : "")}'{pgCtl}' -D '{server._data}' -m immediate -w stop";
            var watchdog = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string argument in (string[])["sh", "-c", $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{folder}'"])
            {
                watchdog.ArgumentList.Add(argument);
            }

            Process.Start(watchdog)?.Dispose();
            AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Dispose();

            await RunAsync(initdb, ["-D", server._data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], root, cancellationToken);
            await RunAsync(pgCtl, ["-D", server._data, "-l", Path.Combine(folder, "server.log"), "-w", "-t", "60", "start", "-o",
                $"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c max_connections=400"], root, cancellationToken);
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>Creates an empty database <paramref name="name"/> and returns a connection string to it.</summary>
    public async Task<string> CreateDatabaseAsync(string name, CancellationToken cancellationToken)
    {
        await RunAsync(FindBinary("createdb"), ["-h", Program.Loopback, "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", name], false, cancellationToken);
        return $"Host={Program.Loopback};Port={Port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database={name}";
    }

    /// <summary>
    /// CPU time used so far by the server processes that serve <paramref name="database"/> (the backends whose process title
    /// names it), or by every process of the server when null (the backends, the WAL writer, the checkpointer, autovacuum …).
    /// </summary>
    /// <remarks>
    /// Read from <c>/proc</c>: the postmaster's pid from <c>postmaster.pid</c>, its children by their parent pid. A backend that
    /// exits between two readings takes its CPU with it (the gateways keep their pooled connections open, so few do).
    /// </remarks>
    public TimeSpan CpuTime(string? database)
    {
        int postmaster;
        try
        {
            postmaster = int.Parse(File.ReadLines(Path.Combine(_data, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            return TimeSpan.Zero;
        }

        long ticks = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields from the state on: [1] ppid, [11] utime, [12] stime
                int parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
                if (pid != postmaster && parent != postmaster)
                {
                    continue;
                }

                if (database is not null)
                {
                    // A backend's title: "postgres: <user> <database> <host>(<port>) <state>".
                    string title = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                    if (pid == postmaster || !title.Contains(" " + database + " ", StringComparison.Ordinal))
                    {
                        continue;
                    }
                }

                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                // The process ended while it was read.
            }
        }

        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ is 100 on Linux
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            if (File.Exists(Path.Combine(_data, "postmaster.pid")))
            {
                RunAsync(_pgCtl, ["-D", _data, "-m", "fast", "-w", "-t", "30", "stop"], _asPostgres, CancellationToken.None).GetAwaiter().GetResult();
            }
        }
        catch (InvalidOperationException ex)
        {
            Console.Error.WriteLine($"Qlaud.LoadBench: pg_ctl stop failed ({ex.Message}); the watchdog stops the server when this process exits.");
        }

        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The watchdog deletes it.
        }
    }

    private static string FindBinary(string name)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (directory.Length > 0 && File.Exists(Path.Combine(directory, name)))
            {
                return Path.Combine(directory, name);
            }
        }

        if (Directory.Exists("/usr/lib/postgresql"))
        {
            foreach (string version in Directory.GetDirectories("/usr/lib/postgresql").OrderDescending())
            {
                string candidate = Path.Combine(version, "bin", name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new InvalidOperationException(
            $"--storage postgres needs a PostgreSQL server: '{name}' is neither on PATH nor under /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql).");
    }

    private static async Task<string> RunAsync(string file, string[] arguments, bool asPostgres, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(asPostgres ? "runuser" : file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asPostgres)
        {
            foreach (string argument in (string[])["-u", "postgres", "--", file])
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(90), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', arguments)} exited {process.ExitCode}: {await errors.ConfigureAwait(false)}{await output.ConfigureAwait(false)}");
        }

        return await output.ConfigureAwait(false);
    }
}
