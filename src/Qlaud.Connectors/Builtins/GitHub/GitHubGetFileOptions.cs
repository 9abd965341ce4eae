namespace Qlaud.Connectors.Builtins.GitHub;

/// <summary>Settings of <c>github_get_file</c>, in <c>Qlaud:Builtins:github_get_file</c>.</summary>
public sealed class GitHubGetFileOptions : GitHubToolOptions
{
    /// <summary>The most bytes of a file given to the model (default 100,000); a longer text file is cut there and marked
    /// <c>truncated</c>. GitHub's contents API itself returns at most 1 MB of content.</summary>
    public int MaxFileBytes { get; set; } = 100_000;
}
