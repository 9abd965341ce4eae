using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Xunit.Abstractions;

namespace Qlaud.AspNetCore.Tests.Infrastructure;

/// <summary><c>Qlaud.Server</c> (the Release or Debug build next to this test's) as a child process on a free loopback port.</summary>
internal sealed class ServerProcess : IAsyncDisposable, IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private ServerProcess(Process process, Uri baseUri)
    {
        _process = process;
        BaseUri = baseUri;
    }

    public Uri BaseUri { get; }

    /// <summary>The server's process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>The files the process has mapped into memory (<c>/proc/&lt;pid&gt;/maps</c>: its native libraries and the
    /// assemblies it loaded), each once.</summary>
    public IReadOnlyList<string> MappedFiles()
        => [.. File.ReadLines($"/proc/{_process.Id}/maps")
            .Select(static line => line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries))
            .Where(static fields => fields.Length == 6 && fields[5].StartsWith('/'))
            .Select(static fields => fields[5].Trim())
            .Distinct()];

    /// <summary>Starts the server with <paramref name="environment"/> (its whole configuration) and waits for <c>/readyz</c>.</summary>
    public static async Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string> environment, ITestOutputHelper output)
    {
        var baseUri = new Uri($"http://127.0.0.1:{FreePort()}");
        var info = new ProcessStartInfo("dotnet", [ServerDll(), "--urls", baseUri.ToString().TrimEnd('/')])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var process = Process.Start(info)!;
        var server = new ServerProcess(process, baseUri);
        process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = server.Http(null);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(90))
            {
                string tail = string.Join('\n', server._lines);
                server.Kill();
                throw new InvalidOperationException($"Qlaud.Server did not become ready (exited: {process.HasExited}):\n{tail}");
            }

            try
            {
                using var response = await http.GetAsync("/readyz");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    output.WriteLine($"Qlaud.Server ready at {baseUri} after {clock.ElapsedMilliseconds} ms");
                    return server;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }
    }

    public HttpClient Http(string? key)
    {
        var client = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        }

        return client;
    }

    /// <summary>SIGTERM, as a service manager stops the server: waits up to <paramref name="timeout"/> for it to shut down
    /// (the host's graceful shutdown, the ledger writer's last commit) and returns its exit code.</summary>
    /// <exception cref="TimeoutException">The process was still running after <paramref name="timeout"/>; it is killed.</exception>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (Terminate(_process.Id, SigTerm) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            string tail = string.Join('\n', _lines);
            Kill();
            throw new TimeoutException($"Qlaud.Server did not stop within {timeout} of SIGTERM:\n{tail}");
        }

        return _process.ExitCode;
    }

    /// <summary>The lines the process printed last (stdout and stderr, up to 40).</summary>
    public string Tail => string.Join('\n', _lines);

    private const int SigTerm = 15;

    // .NET's Process has no way to send SIGTERM; libc's kill(2) is the POSIX call.
    // (DllImport: both arguments are blittable, so no marshalling code is needed, and the project does not enable unsafe code.)
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
#pragma warning disable SYSLIB1054
    private static extern int Terminate(int pid, int signal);
#pragma warning restore SYSLIB1054

    /// <summary>SIGKILL, and waits until the process is gone.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(30_000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _lines.Enqueue(line);
        while (_lines.Count > 40 && _lines.TryDequeue(out _))
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The server built beside this test assembly's configuration (the test project references it for the build only).</summary>
    private static string ServerDll()
    {
        string testBin = AppContext.BaseDirectory; // …/tests/Qlaud.AspNetCore.Tests/bin/<Configuration>/net10.0/
        var framework = new DirectoryInfo(testBin.TrimEnd(Path.DirectorySeparatorChar));
        string configuration = framework.Parent!.Name;
        var root = framework;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Qlaud.sln")))
        {
            root = root.Parent;
        }

        string dll = Path.Combine(root!.FullName, "samples", "Qlaud.Server", "bin", configuration, framework.Name, "Qlaud.Server.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Qlaud.Server is not built; build the test project (it references the server).", dll);
    }
}
