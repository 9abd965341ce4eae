namespace Qlaud.Connectors.Builtins.GitHub;

/// <summary>Settings of <c>github_create_issue</c>, in <c>Qlaud:Builtins:github_create_issue</c>.</summary>
public sealed class GitHubCreateIssueOptions : GitHubToolOptions;
