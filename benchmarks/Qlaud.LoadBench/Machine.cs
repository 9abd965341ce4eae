using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Qlaud.LoadBench;

/// <summary>What the numbers were measured on, and which commit: printed with every result table.</summary>
internal static class Machine
{
    public static string Describe()
    {
        string cpu = "unknown CPU";
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.StartsWith("model name", StringComparison.Ordinal))
                    {
                        cpu = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                        break;
                    }
                }
            }
        }
        catch (IOException)
        {
        }

        return $"{Environment.ProcessorCount} cores ({cpu}), {RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}";
    }

    /// <summary>
    /// CPU time all processes of the machine used so far (user, nice and system from <c>/proc/stat</c>), or zero where there is
    /// no <c>/proc/stat</c>. Its growth minus the three processes under test is the noise from everything else. Interrupt time is
    /// left out: the loopback traffic of the benchmark itself is processed there and is charged to no process.
    /// </summary>
    public static TimeSpan BusyTime()
    {
        try
        {
            using var reader = new StreamReader("/proc/stat");
            var fields = reader.ReadLine()!.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long jiffies = 0;
            foreach (int index in (ReadOnlySpan<int>)[1, 2, 3])
            {
                jiffies += long.Parse(fields[index], System.Globalization.CultureInfo.InvariantCulture);
            }

            return TimeSpan.FromSeconds(jiffies / 100.0); // USER_HZ is 100 on Linux
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>The 1-, 5- and 15-minute load averages (<c>/proc/loadavg</c>), or "unknown".</summary>
    public static string LoadAverage()
    {
        try
        {
            var fields = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{fields[0]} {fields[1]} {fields[2]}";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
            return "unknown";
        }
    }

    /// <summary>The .NET runtime settings in this process's environment (<c>DOTNET_*</c>), which the servers inherit.</summary>
    public static string RuntimeSettings()
    {
        var settings = new List<string>();
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            // Runtime knobs only: the SDK's and the host's own variables (CLI, install root, certificates) change nothing measured,
            // and a value that is a path would put this machine's layout into a committed file.
            if (entry.Key is string key && key.StartsWith("DOTNET_", StringComparison.Ordinal)
                && !key.StartsWith("DOTNET_CLI_", StringComparison.Ordinal) && !key.StartsWith("DOTNET_ROOT", StringComparison.Ordinal)
                && !key.StartsWith("DOTNET_HOST_", StringComparison.Ordinal) && !key.StartsWith("DOTNET_GENERATE_", StringComparison.Ordinal)
                && key is not ("DOTNET_NOLOGO" or "DOTNET_SKIP_FIRST_TIME_EXPERIENCE")
                && entry.Value is string value && !value.Contains('/', StringComparison.Ordinal) && !value.Contains('\\', StringComparison.Ordinal))
            {
                settings.Add($"{key}={value}");
            }
        }

        settings.Sort(StringComparer.Ordinal);
        return settings.Count == 0 ? "none" : string.Join(", ", settings);
    }

    /// <summary>The short commit id of the repository, with <c>+dirty</c> when the tree has changes; null without git.</summary>
    public static string? Commit(string repository)
    {
        string? head = Git(repository, "rev-parse --short HEAD");
        if (head is null)
        {
            return null;
        }

        string? status = Git(repository, "status --porcelain --untracked-files=no");
        return string.IsNullOrWhiteSpace(status) ? head : head + "+dirty";
    }

    private static string? Git(string repository, string arguments)
    {
        try
        {
            var info = new ProcessStartInfo("git", arguments)
            {
                WorkingDirectory = repository,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var git = Process.Start(info);
            if (git is null)
            {
                return null;
            }

            string output = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit(5000);
            return git.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
