using System.Diagnostics;

namespace Qlaud.LoadBench;

/// <summary>Finds the repository, builds the two servers in Release and locates their dlls.</summary>
internal static class Repository
{
    public const string GatewayProject = "samples/Qlaud.Server/Qlaud.Server.csproj";
    public const string FakeProject = "tests/Shared/Qlaud.FakeProvider/Qlaud.FakeProvider.csproj";

    /// <summary>The directory holding <c>Qlaud.sln</c>, searched upwards from the binary and then from the working directory.</summary>
    public static string FindRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Qlaud.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException("Qlaud.sln not found above the binary or the working directory; run from inside the repository.");
    }

    public static async Task BuildAsync(string root, string project, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(ChildProcess.DotnetHost())
        {
            WorkingDirectory = root,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "build", project, "-c", "Release", "-nologo", "-v", "quiet" })
        {
            info.ArgumentList.Add(argument);
        }

        using var build = Process.Start(info) ?? throw new InvalidOperationException("Could not start dotnet build.");
        var output = build.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = build.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await build.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromMinutes(5), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            build.Kill(entireProcessTree: true);
            throw;
        }

        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet build {project} failed:{Environment.NewLine}{await output.ConfigureAwait(false)}{await errors.ConfigureAwait(false)}");
        }
    }

    /// <summary>The newest Release build of <paramref name="project"/>'s dll.</summary>
    public static string Dll(string root, string project)
    {
        string directory = Path.Combine(root, Path.GetDirectoryName(project)!, "bin", "Release");
        string name = Path.GetFileNameWithoutExtension(project) + ".dll";
        var candidates = Directory.Exists(directory) ? Directory.GetFiles(directory, name, SearchOption.AllDirectories) : [];
        string? newest = null;
        foreach (var candidate in candidates)
        {
            if (newest is null || File.GetLastWriteTimeUtc(candidate) > File.GetLastWriteTimeUtc(newest))
            {
                newest = candidate;
            }
        }

        return newest ?? throw new InvalidOperationException($"No Release build of {project}; run without --no-build.");
    }
}
