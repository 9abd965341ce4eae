using System.Collections.Concurrent;
using System.Diagnostics;

namespace Qlaud.Connectors.Builtins.CodeExecution;

/// <summary>Starts sandbox processes from one thread that lives as long as the gateway process.</summary>
/// <remarks><c>bwrap --die-with-parent</c> uses the kernel's parent-death signal, which fires when the <em>thread</em> that
/// forked bwrap ends, not the process. Started from a thread-pool thread, a sandbox would be killed whenever the pool retires
/// that thread; started from this thread, it is killed only when the gateway process dies.</remarks>
internal static class SandboxLauncher
{
    private static readonly BlockingCollection<(ProcessStartInfo Start, TaskCompletionSource<Process> Started)> Pending = [];
    private static readonly Lazy<Thread> Launcher = new(static () =>
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "Qlaud sandbox launcher" };
        thread.Start();
        return thread;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Starts <paramref name="start"/> on the launcher thread; the task fails as <see cref="Process.Start()"/> would.</summary>
    public static Task<Process> StartAsync(ProcessStartInfo start)
    {
        _ = Launcher.Value;
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Pending.Add((start, started));
        return started.Task;
    }

    private static void Run()
    {
        foreach (var (start, started) in Pending.GetConsumingEnumerable())
        {
            var process = new Process { StartInfo = start };
            try
            {
                process.Start();
                started.SetResult(process);
            }
            catch (Exception ex)
            {
                process.Dispose();
                started.SetException(ex);
            }
        }
    }
}
