using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Connectors.Tools;

namespace Qlaud.Connectors.Builtins.GitHub;

/// <summary><c>github_search_code</c>: GitHub's code search with the operator's GitHub token.</summary>
/// <remarks>API reference: https://docs.github.com/en/rest/search/search#search-code (<c>GET /search/code?q=…&amp;per_page=…</c>;
/// <c>total_count</c>, <c>incomplete_results</c>, <c>items[]</c> with <c>name</c>, <c>path</c>, <c>sha</c>, <c>html_url</c>,
/// <c>repository.full_name</c>). Code search needs an authenticated request and is limited to 10 requests a minute.</remarks>
internal sealed class GitHubSearchCodeTool(IHttpClientFactory httpClientFactory, IOptionsMonitor<GitHubSearchCodeOptions> options,
    IConfiguration configuration, TimeProvider timeProvider, ILogger<GitHubSearchCodeTool> logger) : BuiltinTool
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "github_search_code";

    private const int DefaultResults = 10;
    private const int MaxResults = 30;

    private static readonly JsonElement Schema = QlaudFunction.Schema("""
        {"type":"object","properties":{
          "query":{"type":"string","description":"GitHub code search query: keywords plus qualifiers such as repo:owner/name, org:name, language:csharp, path:src/, extension:md, filename:Program.cs."},
          "max_results":{"type":"integer","minimum":1,"maximum":30,"description":"How many files to return (default 10)."}},
         "required":["query"],"additionalProperties":false}
        """);

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "Search code on GitHub (default branches of the repositories the operator's token can see). Returns matching files: repository, path, URL and blob sha.";

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

        string? query = call.String("query")?.Trim();
        if (string.IsNullOrEmpty(query))
        {
            return BuiltinToolResult.Error("Give \"query\": keywords and qualifiers such as repo:owner/name or language:python.");
        }

        long count = call.Integer("max_results") ?? DefaultResults;
        if (count is < 1 or > MaxResults)
        {
            return BuiltinToolResult.Error($"\"max_results\" must be between 1 and {MaxResults}.");
        }

        var api = new GitHubApi(httpClientFactory.CreateClient(BuiltinRegistration.HttpClientName(ToolName)), settings, token, timeProvider);
        string url = "search/code?q=" + Uri.EscapeDataString(query) + "&per_page=" + count.ToString(CultureInfo.InvariantCulture);
        var reply = await api.SendAsync(HttpMethod.Get, url, null, cancellationToken).ConfigureAwait(false);
        if (!reply.IsSuccess)
        {
            VendorHttp.LogFailed(logger, ToolName, reply.Status);
            return api.Error(reply, "match");
        }

        try
        {
            using var document = JsonDocument.Parse(reply.Body);
            var root = document.RootElement;
            return BuiltinToolResult.Ok(VendorHttp.Json(writer =>
            {
                writer.WriteStartObject();
                writer.WriteNumber("total_count", root.TryGetProperty("total_count", out var total) && total.TryGetInt64(out long t) ? t : 0);
                writer.WriteBoolean("incomplete_results", root.TryGetProperty("incomplete_results", out var incomplete) && incomplete.ValueKind == JsonValueKind.True);
                writer.WriteStartArray("items");
                if (root.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Array)
                {
                    foreach (var item in items.EnumerateArray())
                    {
                        writer.WriteStartObject();
                        writer.WriteOptional("repository", item.TryGetProperty("repository", out var repository) ? Text(repository, "full_name") : null);
                        writer.WriteOptional("path", Text(item, "path"));
                        writer.WriteOptional("html_url", Text(item, "html_url"));
                        writer.WriteOptional("sha", Text(item, "sha"));
                        writer.WriteEndObject();
                    }
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }));
        }
        catch (JsonException)
        {
            return BuiltinToolResult.Error("GitHub answered with something that is not JSON; try again later.");
        }
    }

    private static string? Text(JsonElement element, string name) => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
