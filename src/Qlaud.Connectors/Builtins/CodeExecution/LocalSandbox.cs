using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Qlaud.Connectors.Builtins.CodeExecution;

/// <summary>Runs Python in a <c>bubblewrap</c> sandbox on this machine: no network, nothing of the host but a read-only
/// <c>/usr</c>, a throw-away tmpfs working directory, and CPU-time, memory, process, file-size and output limits.</summary>
/// <remarks>
/// <para>The command line is <c>bwrap --unshare-all --unshare-user --disable-userns --cap-drop ALL --die-with-parent
/// --new-session</c> with read-only binds of <c>/usr</c> (and the <c>/bin</c>, <c>/lib*</c>, <c>/sbin</c> links), a fresh
/// <c>/proc</c> and <c>/dev</c>, a size-capped tmpfs at <c>/tmp</c> as the working directory and a cleared environment; inside,
/// util-linux <c>prlimit</c> sets RLIMIT_AS, RLIMIT_NPROC, RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE and RLIMIT_CORE and runs
/// <c>python3 -I -u -</c>, which reads the program from standard input. Each run has its own user, PID, network, IPC and UTS
/// namespaces: when the program's first process ends, or the timeout kills the process tree, the kernel ends every process
/// left in its PID namespace, and the tmpfs goes with it.</para>
/// <para>The kernel does not enforce RLIMIT_NPROC for root, so a gateway running as root starts bwrap through
/// <c>setpriv</c> as <see cref="CodeExecutionOptions.SandboxUserId"/>.</para>
/// </remarks>
internal sealed partial class LocalSandbox
{
    private const int SignalBase = 128; // bwrap exits with 128 + n when its command was killed by signal n
    private static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
    private static readonly Lazy<bool> IsRoot = new(RunsAsRoot);

    private readonly CodeExecutionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _slots;
    private readonly Lazy<string?> _unavailable;
    private readonly Lazy<(string FileName, string[] Arguments)> _command;

    public LocalSandbox(CodeExecutionOptions options, TimeProvider time, ILogger logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _slots = new SemaphoreSlim(Math.Max(options.MaxConcurrent, 1));
        _unavailable = new Lazy<string?>(Probe, LazyThreadSafetyMode.ExecutionAndPublication);
        _command = new Lazy<(string, string[])>(Command, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Whether the sandbox runs here: bwrap, python3 and prlimit exist and a trial program ran in the sandbox (checked once).</summary>
    public bool IsAvailable => _unavailable.Value is null;

    /// <summary>Runs <paramref name="code"/> with the wall-clock limit <paramref name="timeout"/>.</summary>
    public async Task<CodeRun> RunAsync(string code, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            await _slots.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new CodeRun("", "", null, TimedOut: true, Truncated: false,
                $"The sandbox was busy with other programs for the whole timeout of {Seconds(timeout)} s; the program did not run. Try again.");
        }

        try
        {
            return await RunInSandboxAsync(code, timeout, linked.Token, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task<CodeRun> RunInSandboxAsync(string code, TimeSpan timeout, CancellationToken deadline, CancellationToken cancellationToken)
    {
        var capture = new OutputCapture(_options.MaxOutputChars);
        var start = StartInfo();
        Process started;
        try
        {
            started = await SandboxLauncher.StartAsync(start).ConfigureAwait(false);
        }
        catch (Win32Exception ex)
        {
            Log.StartFailed(_logger, start.FileName, ex.Message);
            return new CodeRun("", "", null, false, false, "The sandbox could not be started on the gateway; the program did not run.");
        }

        using var process = started;

        var stdout = PumpAsync(process.StandardOutput, capture, stderr: false);
        var stderr = PumpAsync(process.StandardError, capture, stderr: true);
        bool timedOut = false;
        try
        {
            try
            {
                await process.StandardInput.WriteAsync(code.AsMemory(), deadline).ConfigureAwait(false);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The sandbox ended before it read the whole program (it failed to start); its exit status says why.
            }

            await process.WaitForExitAsync(deadline).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            try
            {
                await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Killed but not yet reaped; the exit status is not needed.
            }

            cancellationToken.ThrowIfCancellationRequested();
            timedOut = true;
        }

        try
        {
            // Every holder of the pipes is gone with the sandbox's PID namespace; the bound only guards against a stuck reader.
            await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Kill(process);
        }

        int? exitCode = timedOut ? null : process.ExitCode;
        string err = capture.StderrText;
        string? failure = timedOut
            ? $"The program ran longer than the wall-clock timeout of {Seconds(timeout)} s and was killed."
            : Explain(exitCode!.Value, err, capture.StdoutText.Length == 0);
        if (failure is not null && exitCode is not null && err.StartsWith("bwrap: ", StringComparison.Ordinal))
        {
            Log.SandboxFailed(_logger, err.Length > 300 ? err[..300] : err);
        }

        return new CodeRun(capture.StdoutText, err, exitCode, timedOut, capture.Truncated, failure);
    }

    /// <summary>Why a finished run failed, naming the limit it hit when the exit status or Python's error says so.</summary>
    private string? Explain(int exitCode, string stderr, bool noOutput)
    {
        if (exitCode == 0)
        {
            return null;
        }

        if (noOutput && stderr.StartsWith("bwrap: ", StringComparison.Ordinal))
        {
            return "The sandbox could not be set up on the gateway; the program did not run.";
        }

        if (exitCode > SignalBase && exitCode < SignalBase + 65)
        {
            int signal = exitCode - SignalBase;
            return signal switch
            {
                24 => $"The program used more than its CPU-time limit of {_options.CpuSeconds} s and was killed (SIGXCPU).",
                25 => $"The program wrote a file larger than the limit of {_options.DiskMb} MB and was killed (SIGXFSZ).",
                9 => "The program was killed (SIGKILL).",
                _ => $"The program was killed by signal {signal}.",
            };
        }

        string limit =
            Has(stderr, "MemoryError") || Has(stderr, "[Errno 12]")
                ? $" It ran out of memory: the sandbox allows {_options.MemoryMb} MB of address space per process."
            : Has(stderr, "[Errno 11]") || Has(stderr, "can't start new thread")
                ? $" It could not start another process or thread: the sandbox allows at most {_options.MaxProcesses} at once."
            : Has(stderr, "[Errno 27]")
                ? $" It wrote a file larger than the sandbox's limit of {_options.DiskMb} MB."
            : Has(stderr, "[Errno 28]")
                ? $" It filled the sandbox's {_options.DiskMb} MB working directory."
            : Has(stderr, "[Errno 101]") || Has(stderr, "[Errno 111]") || Has(stderr, "[Errno 99]") || Has(stderr, "gaierror")
                ? " The sandbox has no network access."
            : Has(stderr, "[Errno 2]") || Has(stderr, "[Errno 13]") || Has(stderr, "[Errno 30]")
                ? " Only /tmp (the working directory, emptied after every call) is writable; host files are not visible."
            : "";
        return $"The program exited with code {exitCode.ToString(CultureInfo.InvariantCulture)}.{limit} See stderr.";

        static bool Has(string text, string what) => text.Contains(what, StringComparison.Ordinal);
    }

    private ProcessStartInfo StartInfo()
    {
        var (fileName, arguments) = _command.Value;
        var start = new ProcessStartInfo(fileName, arguments)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = Utf8,
            StandardOutputEncoding = Utf8,
            StandardErrorEncoding = Utf8,
            WorkingDirectory = "/",
        };
        start.Environment.Clear(); // the gateway's environment (its keys) stays out; bwrap --clearenv empties it inside as well
        return start;
    }

    /// <summary>The sandbox's command line, the same for every run.</summary>
    private (string FileName, string[] Arguments) Command()
    {
        var args = new List<string>();
        string fileName;
        if (IsRoot.Value)
        {
            string id = _options.SandboxUserId.ToString(CultureInfo.InvariantCulture);
            fileName = _options.SetprivPath;
            args.AddRange(["--reuid=" + id, "--regid=" + id, "--clear-groups", "--", _options.BwrapPath]);
        }
        else
        {
            fileName = _options.BwrapPath;
        }

        args.AddRange(["--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--hostname", "sandbox",
            "--ro-bind", "/usr", "/usr"]);
        foreach (string top in (string[])["/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"])
        {
            var dir = new DirectoryInfo(top);
            if (dir.LinkTarget is { } target)
            {
                args.AddRange(["--symlink", target, top]);
            }
            else if (dir.Exists)
            {
                args.AddRange(["--ro-bind", top, top]);
            }
        }

        foreach (string path in _options.ReadOnlyBinds)
        {
            args.AddRange(["--ro-bind", path, path]);
        }

        long mb = 1024 * 1024;
        string disk = (_options.DiskMb * mb).ToString(CultureInfo.InvariantCulture);
        args.AddRange(["--proc", "/proc", "--dev", "/dev", "--size", disk, "--tmpfs", "/tmp", "--chdir", "/tmp", "--clearenv",
            "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp", "--setenv", "LANG", "C.UTF-8",
            _options.PrlimitPath,
            "--as=" + (_options.MemoryMb * mb).ToString(CultureInfo.InvariantCulture),
            "--nproc=" + _options.MaxProcesses.ToString(CultureInfo.InvariantCulture),
            // SIGXCPU at the soft limit names the cause; the hard limit a second later kills a program that ignores it.
            "--cpu=" + _options.CpuSeconds.ToString(CultureInfo.InvariantCulture) + ":" + (_options.CpuSeconds + 1).ToString(CultureInfo.InvariantCulture),
            "--fsize=" + disk, "--nofile=256", "--core=0",
            "--", _options.PythonPath, "-I", "-u", "-"]);
        return (fileName, [.. args]);
    }

    private static async Task PumpAsync(StreamReader reader, OutputCapture capture, bool stderr)
    {
        char[] buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer.AsMemory(), CancellationToken.None).ConfigureAwait(false)) > 0)
        {
            if (stderr)
            {
                capture.Stderr(buffer.AsSpan(0, read));
            }
            else
            {
                capture.Stdout(buffer.AsSpan(0, read));
            }
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It has exited already.
        }
        catch (Win32Exception)
        {
            // It is exiting; the PID namespace takes the rest with it.
        }
    }

    /// <summary>Checks the executables and runs a trial program once; returns why the sandbox cannot run, or null.</summary>
    private string? Probe()
    {
        string? reason = !OperatingSystem.IsLinux() ? "it needs Linux"
            : !File.Exists(_options.BwrapPath) ? $"bwrap was not found at {_options.BwrapPath} (Qlaud:Builtins:code_execution:BwrapPath; Debian package bubblewrap)"
            : !File.Exists(_options.PythonPath) ? $"python3 was not found at {_options.PythonPath} (Qlaud:Builtins:code_execution:PythonPath)"
            : !File.Exists(_options.PrlimitPath) ? $"prlimit was not found at {_options.PrlimitPath} (Qlaud:Builtins:code_execution:PrlimitPath; util-linux)"
            : IsRoot.Value && !File.Exists(_options.SetprivPath) ? $"setpriv was not found at {_options.SetprivPath} (Qlaud:Builtins:code_execution:SetprivPath; util-linux), needed when the gateway runs as root"
            : null;
        if (reason is null)
        {
            try
            {
                var run = Task.Run(() => RunAsync("print(6 * 7)", TimeSpan.FromSeconds(20), CancellationToken.None)).GetAwaiter().GetResult();
                if (run.ExitCode != 0 || run.Stdout != "42\n")
                {
                    reason = $"a trial program in the sandbox failed (exit code {run.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none, timed out"}): {run.Stderr.Trim()}";
                }
            }
            catch (Exception ex) when (ex is IOException or Win32Exception or InvalidOperationException)
            {
                reason = "a trial program in the sandbox failed: " + ex.Message;
            }
        }

        if (reason is not null)
        {
            Log.Unavailable(_logger, reason);
        }

        return reason;
    }

    /// <summary>Whether this process's effective user is root (from <c>/proc/self/status</c>).</summary>
    private static bool RunsAsRoot()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    string[] ids = line["Uid:".Length..].Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
                    return ids.Length > 1 && ids[1] == "0";
                }
            }
        }
        catch (IOException)
        {
        }

        return false;
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "The local code_execution sandbox is not available: {Reason}")]
        public static partial void Unavailable(ILogger logger, string reason);

        [LoggerMessage(2, LogLevel.Warning, "The local code_execution sandbox could not start {FileName}: {Message}")]
        public static partial void StartFailed(ILogger logger, string fileName, string message);

        [LoggerMessage(3, LogLevel.Warning, "The local code_execution sandbox failed to set up: {Error}")]
        public static partial void SandboxFailed(ILogger logger, string error);
    }
}
