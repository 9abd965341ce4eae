namespace Qlaud.Connectors.Builtins.Linear;

/// <summary>Settings of <c>linear_create_issue</c>, in <c>Qlaud:Builtins:linear_create_issue</c>. The key is a Linear personal
/// API key (<c>lin_api_…</c>, sent as <c>Authorization: &lt;key&gt;</c>; an OAuth access token is configured as
/// <c>Bearer &lt;token&gt;</c>); when <see cref="BuiltinToolOptions.ApiKey"/> is unset, <c>LINEAR_API_KEY</c>.</summary>
public sealed class LinearCreateIssueOptions : BuiltinToolOptions
{
    /// <summary>The team an issue is filed in when the model names none: a team id (UUID) or key (such as <c>ENG</c>). When
    /// unset the model must name the team.</summary>
    public string? DefaultTeam { get; set; }
}
