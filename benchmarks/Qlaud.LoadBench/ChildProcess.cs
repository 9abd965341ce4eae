using System.Diagnostics;

namespace Qlaud.LoadBench;

/// <summary>A server under test running as its own process (<c>dotnet app.dll …</c>); disposing kills it and its children.</summary>
internal sealed class ChildProcess : IDisposable
{
    private static readonly List<ChildProcess> Live = [];

    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();
    private LineCounter[] _counters = [];
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _readyMarker;
    private int _disposed;

    private ChildProcess(string name, Process process, string readyMarker)
    {
        Name = name;
        _process = process;
        _readyMarker = readyMarker;
    }

    public string Name { get; }

    public int Id => _process.Id;

    /// <summary>Throws when the process is no longer running: a row measured while a server was gone is not a result.</summary>
    public void EnsureRunning()
    {
        bool exited;
        try
        {
            exited = _process.HasExited;
        }
        catch (InvalidOperationException)
        {
            exited = true;
        }

        if (exited)
        {
            throw new InvalidOperationException($"{Name} exited during the run (code {SafeExitCode(_process)}); its numbers are discarded.{Tail()}");
        }
    }

    /// <summary>When the process was started (<see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    public long StartedAt { get; private set; }

    /// <summary>Resident memory now (<c>VmRSS</c>) and at its peak so far (<c>VmHWM</c>), in bytes; zero where <c>/proc</c> has none.</summary>
    public (long Now, long Peak) Memory()
    {
        long now = 0, peak = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    now = Kilobytes(line) * 1024;
                }
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    peak = Kilobytes(line) * 1024;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
        }

        return (now, peak);

        static long Kilobytes(string line)
        {
            var digits = line.AsSpan(line.IndexOf(':', StringComparison.Ordinal) + 1).Trim();
            int space = digits.IndexOf(' ');
            return long.Parse(space < 0 ? digits : digits[..space], System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>CPU time used so far (user + system).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            try
            {
                _process.Refresh();
                return _process.TotalProcessorTime;
            }
            catch (InvalidOperationException)
            {
                return TimeSpan.Zero; // exited
            }
        }
    }

    /// <summary>Starts <c>dotnet <paramref name="dll"/></c> and returns once it printed a line containing <paramref name="readyMarker"/>.</summary>
    public static async Task<ChildProcess> StartAsync(string name, string dll, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment,
        string workingDirectory, string readyMarker, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(DotnetHost())
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = workingDirectory,
        };
        info.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(name, process, readyMarker);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        process.Exited += (_, _) => child._ready.TrySetException(new InvalidOperationException($"{name} exited with code {SafeExitCode(process)} before it was ready.{child.Tail()}"));
        child.StartedAt = Stopwatch.GetTimestamp();
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {name}.");
        }

        lock (Live)
        {
            Live.Add(child);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await child._ready.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return child;
        }
        catch (TimeoutException)
        {
            child.Dispose();
            throw new InvalidOperationException($"{name} printed no '{readyMarker}' line within {timeout.TotalSeconds:0} s.{child.Tail()}");
        }
        catch
        {
            child.Dispose();
            throw;
        }
    }

    /// <summary>Kills every child still running (Ctrl+C, the watchdog, process exit).</summary>
    public static void KillAll()
    {
        ChildProcess[] live;
        lock (Live)
        {
            live = [.. Live];
        }

        foreach (var child in live)
        {
            child.Dispose();
        }
    }

    /// <summary>Counts from now on the lines the process prints that contain <paramref name="marker"/> (a log message).</summary>
    public LineCounter CountLines(string marker)
    {
        var counter = new LineCounter(marker);
        lock (_lastLines)
        {
            _counters = [.. _counters, counter];
        }

        return counter;
    }

    /// <summary>The last lines the process printed, for error messages.</summary>
    public string Tail()
    {
        lock (_lastLines)
        {
            return _lastLines.Count == 0 ? "" : Environment.NewLine + "  | " + string.Join(Environment.NewLine + "  | ", _lastLines);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (Live)
        {
            Live.Remove(this);
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            if (_lastLines.Count > 20)
            {
                _lastLines.Dequeue();
            }
        }

        if (line.Contains(_readyMarker, StringComparison.Ordinal))
        {
            _ready.TrySetResult(line);
        }

        foreach (var counter in Volatile.Read(ref _counters))
        {
            counter.Observe(line);
        }
    }

    private static string SafeExitCode(Process process)
    {
        try
        {
            return process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }

    /// <summary>The <c>dotnet</c> host: the one <c>dotnet run</c> was started with, else the one on PATH.</summary>
    public static string DotnetHost()
        => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
}

/// <summary>How many lines containing <see cref="Marker"/> a child process printed since the counter was created.</summary>
internal sealed class LineCounter(string marker)
{
    private long _count;

    public string Marker { get; } = marker;

    public long Count => Interlocked.Read(ref _count);

    internal void Observe(string line)
    {
        if (line.Contains(Marker, StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _count);
        }
    }
}
