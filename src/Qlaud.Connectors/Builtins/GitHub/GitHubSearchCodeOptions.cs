namespace Qlaud.Connectors.Builtins.GitHub;

/// <summary>Settings of <c>github_search_code</c>, in <c>Qlaud:Builtins:github_search_code</c>.</summary>
public sealed class GitHubSearchCodeOptions : GitHubToolOptions;
