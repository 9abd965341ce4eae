namespace Qlaud.Connectors.Builtins.GitHub;

/// <summary>The settings the GitHub builtins share. Each tool has its own section (<c>Qlaud:Builtins:github_create_issue</c>,
/// <c>Qlaud:Builtins:github_search_code</c>, <c>Qlaud:Builtins:github_get_file</c>) with these keys; when a section's
/// <see cref="BuiltinToolOptions.ApiKey"/> is unset, the token is <c>GITHUB_TOKEN</c> (else <c>GH_TOKEN</c>), so one variable
/// serves all three.</summary>
public abstract class GitHubToolOptions : BuiltinToolOptions
{
    /// <summary>The REST API version sent as <c>X-GitHub-Api-Version</c> (default <c>2026-03-10</c>, the current version; the
    /// tools read no field that differs from <c>2022-11-28</c>, which can be set instead).</summary>
    public string ApiVersion { get; set; } = "2026-03-10";

    /// <summary>The <c>User-Agent</c> GitHub requires on every request (default <c>Qlaud</c>).</summary>
    public string UserAgent { get; set; } = "Qlaud";
}
