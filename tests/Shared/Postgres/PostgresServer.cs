using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Qlaud.Tests.Postgres;

/// <summary>
/// A throwaway PostgreSQL server for the tests of one process: <c>initdb</c> in a temporary folder, <c>pg_ctl start</c> on
/// a free loopback port, stopped and deleted when the process exits. Each test gets its own database on it.
/// </summary>
/// <remarks>
/// The binaries come from <c>PATH</c> or <c>/usr/lib/postgresql/*/bin</c>. As root the server runs as the <c>postgres</c>
/// user (PostgreSQL refuses root). When <c>QLAUD_TEST_POSTGRES</c> holds a connection string, that server is used instead
/// (its user must be allowed to create databases). Missing binaries fail the test with a message saying what to install:
/// nothing is skipped.
/// </remarks>
public sealed class PostgresServer
{
    private static readonly Lazy<Task<PostgresServer>> Shared = new(StartAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    private PostgresServer(string adminConnectionString) => AdminConnectionString = adminConnectionString;

    /// <summary>A connection string to the server's <c>postgres</c> database as a superuser.</summary>
    public string AdminConnectionString { get; }

    /// <summary>The server of this test process, started on first use.</summary>
    public static Task<PostgresServer> GetAsync() => Shared.Value;

    /// <summary>Creates an empty database and returns a connection string to it.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        string name = $"qlaud_test_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(AdminConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>Drops the database of <paramref name="connectionString"/>, closing whatever connections still use it.</summary>
    public async Task DropDatabaseAsync(string connectionString)
    {
        string name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<PostgresServer> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("QLAUD_TEST_POSTGRES") is { Length: > 0 } external)
        {
            return new PostgresServer(external);
        }

        string initdb = FindBinary("initdb");
        string pgCtl = FindBinary("pg_ctl");
        bool root = Environment.UserName == "root";
        string folder = Path.Combine(Path.GetTempPath(), $"qlaud-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        if (root)
        {
            await RunAsync("chown", ["postgres", folder], asPostgres: false);
        }

        string data = Path.Combine(folder, "data");
        await RunAsync(initdb, ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], root);
        int port = FreePort();
        await RunAsync(pgCtl, ["-D", data, "-l", Path.Combine(folder, "server.log"), "-w", "-t", "60", "start", "-o",
            $"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400"], root);

        // A watchdog outlives this process: once it is gone (exited, or killed by a test runner's hang timeout) it stops the
        // server and deletes the folder, so no run leaves a server or its files behind.
        string stop = $"{(root ? "runuser -u postgres -- " : "")}'{pgCtl}' -D '{data}' -m immediate -w stop";
        var watchdog = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["sh", "-c", $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{folder}'"])
        {
            watchdog.ArgumentList.Add(a);
        }

        Process.Start(watchdog)?.Dispose();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                RunAsync(pgCtl, ["-D", data, "-m", "immediate", "-w", "stop"], root).GetAwaiter().GetResult();
            }
            catch (InvalidOperationException)
            {
                // The watchdog stops it.
            }
        };

        return new PostgresServer($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Maximum Pool Size=200");
    }

    private static string FindBinary(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, name)))
            {
                return Path.Combine(dir, name);
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
            $"The PostgreSQL tests need a PostgreSQL server: '{name}' is neither on PATH nor under /usr/lib/postgresql/*/bin. " +
            "Install it (Debian: apt-get install postgresql), or set QLAUD_TEST_POSTGRES to a connection string of a server whose user may create databases.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string file, string[] args, bool asPostgres)
    {
        var start = new ProcessStartInfo(asPostgres ? "runuser" : file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asPostgres)
        {
            foreach (string a in (string[])["-u", "postgres", "--", file])
            {
                start.ArgumentList.Add(a);
            }
        }

        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}{await stdout}");
        }
    }
}
