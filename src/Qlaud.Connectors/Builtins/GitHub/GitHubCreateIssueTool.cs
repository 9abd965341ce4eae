using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Connectors.Tools;

namespace Qlaud.Connectors.Builtins.GitHub;

/// <summary><c>github_create_issue</c>: opens an issue in a repository with the operator's GitHub token.</summary>
/// <remarks>API reference: https://docs.github.com/en/rest/issues/issues#create-an-issue
/// (<c>POST /repos/{owner}/{repo}/issues</c> with <c>title</c>, <c>body</c>, <c>labels</c>, <c>assignees</c>; 201 with the issue).
/// Creating is not idempotent, so only 429s are retried.</remarks>
internal sealed class GitHubCreateIssueTool(IHttpClientFactory httpClientFactory, IOptionsMonitor<GitHubCreateIssueOptions> options,
    IConfiguration configuration, TimeProvider timeProvider, ILogger<GitHubCreateIssueTool> logger) : BuiltinTool
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "github_create_issue";

    private static readonly JsonElement Schema = QlaudFunction.Schema("""
        {"type":"object","properties":{
          "owner":{"type":"string","description":"The repository's owner (user or organization), e.g. octocat."},
          "repo":{"type":"string","description":"The repository's name, e.g. hello-world."},
          "title":{"type":"string","description":"The issue's title."},
          "body":{"type":"string","description":"The issue's text, in GitHub Markdown."},
          "labels":{"type":"array","items":{"type":"string"},"description":"Optional label names."},
          "assignees":{"type":"array","items":{"type":"string"},"description":"Optional logins to assign."}},
         "required":["owner","repo","title"],"additionalProperties":false}
        """);

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "Open a GitHub issue in a repository (with the operator's GitHub token). Returns the issue's number and URL.";

    /// <inheritdoc/>
    public override JsonElement InputSchema => Schema;

    /// <inheritdoc/>
    public override bool IsAvailable => options.CurrentValue.Enabled && GitHubApi.Token(options.CurrentValue, configuration) is not null;

    /// <inheritdoc/>
    /// <remarks>GitHub's REST API has no per-call price: 0 unless <c>PriceUsd</c> is set.</remarks>
    public override long PriceMicros => BuiltinRegistration.Price(options.CurrentValue, 0);

    /// <inheritdoc/>
    public override async Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (!settings.Enabled || GitHubApi.Token(settings, configuration) is not { } token)
        {
            return BuiltinToolResult.Error(ToolName + " is not configured on this gateway.");
        }

        string? owner = call.String("owner")?.Trim();
        string? repo = call.String("repo")?.Trim();
        string? title = call.String("title");
        if (!GitHubApi.IsName(owner) || !GitHubApi.IsName(repo))
        {
            return BuiltinToolResult.Error("Give \"owner\" and \"repo\": the repository's owner and name (letters, digits, '-', '_', '.').");
        }

        if (string.IsNullOrWhiteSpace(title))
        {
            return BuiltinToolResult.Error("Give \"title\": the issue's title.");
        }

        var labels = call.Get("labels").ValueKind == JsonValueKind.Undefined ? [] : VendorHttp.Strings(call.Get("labels"));
        var assignees = call.Get("assignees").ValueKind == JsonValueKind.Undefined ? [] : VendorHttp.Strings(call.Get("assignees"));
        if (labels is null || assignees is null)
        {
            return BuiltinToolResult.Error("\"labels\" and \"assignees\" must be arrays of strings.");
        }

        string? body = call.String("body");
        var content = VendorHttp.JsonContent(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("title", title);
            writer.WriteOptional("body", body);
            WriteArray(writer, "labels", labels);
            WriteArray(writer, "assignees", assignees);
            writer.WriteEndObject();
        });
        var api = new GitHubApi(httpClientFactory.CreateClient(BuiltinRegistration.HttpClientName(ToolName)), settings, token, timeProvider);
        var reply = await api.SendAsync(HttpMethod.Post, $"repos/{owner}/{repo}/issues", content, cancellationToken).ConfigureAwait(false);
        if (!reply.IsSuccess)
        {
            VendorHttp.LogFailed(logger, ToolName, reply.Status);
            return api.Error(reply, $"repository {owner}/{repo}");
        }

        try
        {
            using var document = JsonDocument.Parse(reply.Body);
            var issue = document.RootElement;
            return BuiltinToolResult.Ok(VendorHttp.Json(writer =>
            {
                writer.WriteStartObject();
                if (issue.TryGetProperty("number", out var number) && number.TryGetInt64(out long n))
                {
                    writer.WriteNumber("number", n);
                }

                writer.WriteOptional("html_url", Text(issue, "html_url"));
                writer.WriteOptional("state", Text(issue, "state"));
                writer.WriteEndObject();
            }));
        }
        catch (JsonException)
        {
            return BuiltinToolResult.Error("GitHub answered with something that is not JSON; the issue may have been created, check before retrying.");
        }
    }

    private static void WriteArray(Utf8JsonWriter writer, string name, List<string> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        writer.WriteStartArray(name);
        foreach (string value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }

    private static string? Text(JsonElement element, string name) => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
