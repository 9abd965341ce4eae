using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Connectors.Tools;

namespace Qlaud.Connectors.Builtins.Linear;

/// <summary><c>linear_create_issue</c>: files an issue with Linear's GraphQL API (<c>issueCreate</c>) and the operator's key.</summary>
/// <remarks>
/// API reference: https://linear.app/developers/graphql (endpoint <c>https://api.linear.app/graphql</c>; a personal API key is sent
/// as <c>Authorization: &lt;API_KEY&gt;</c> without <c>Bearer</c>, an OAuth token as <c>Authorization: Bearer &lt;token&gt;</c>;
/// errors follow the GraphQL format, an <c>errors</c> array in the body, with <c>extensions.code</c> such as
/// <c>AUTHENTICATION_ERROR</c>, <c>FORBIDDEN</c>, <c>INPUT_ERROR</c> or <c>RATELIMITED</c>) and
/// https://linear.app/developers/rate-limiting. A team named by key (<c>ENG</c>) is looked up first with <c>teams(filter:
/// {key: {eq: …}})</c>; an id is used as is. Creating is not idempotent, so only 429s are retried.
/// </remarks>
internal sealed class LinearCreateIssueTool(IHttpClientFactory httpClientFactory, IOptionsMonitor<LinearCreateIssueOptions> options,
    IConfiguration configuration, TimeProvider timeProvider, ILogger<LinearCreateIssueTool> logger) : BuiltinTool
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "linear_create_issue";

    /// <summary>The environment variable read when no key is configured.</summary>
    public const string KeyVariable = "LINEAR_API_KEY";

    /// <summary>The GraphQL endpoint.</summary>
    public const string DefaultBaseUrl = "https://api.linear.app/";

    private const string Vendor = "Linear";

    /// <summary>The <c>issueCreate</c> mutation, with the fields the result needs.</summary>
    internal const string IssueCreateMutation = "mutation IssueCreate($input: IssueCreateInput!) { issueCreate(input: $input) { success issue { id identifier title url } } }";

    /// <summary>The team lookup by key.</summary>
    internal const string TeamByKeyQuery = "query TeamByKey($key: String!) { teams(filter: { key: { eq: $key } }) { nodes { id key name } } }";

    private static readonly JsonElement Schema = QlaudFunction.Schema("""
        {"type":"object","properties":{
          "title":{"type":"string","description":"The issue's title."},
          "description":{"type":"string","description":"The issue's description, in Markdown."},
          "team":{"type":"string","description":"The team: its key (such as ENG) or id. Optional when the operator configured a default team."},
          "priority":{"type":"integer","minimum":0,"maximum":4,"description":"Optional priority: 0 none, 1 urgent, 2 high, 3 medium, 4 low."}},
         "required":["title"],"additionalProperties":false}
        """);

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "Create an issue in the operator's Linear workspace. Returns the issue's identifier (such as ENG-123) and URL.";

    /// <inheritdoc/>
    public override JsonElement InputSchema => Schema;

    /// <inheritdoc/>
    public override bool IsAvailable => options.CurrentValue.Enabled && Key is not null;

    /// <inheritdoc/>
    /// <remarks>Linear's API has no per-call price: 0 unless <c>PriceUsd</c> is set.</remarks>
    public override long PriceMicros => BuiltinRegistration.Price(options.CurrentValue, 0);

    private string? Key => VendorHttp.Key(options.CurrentValue.ApiKey, configuration, KeyVariable);

    /// <inheritdoc/>
    public override async Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (!settings.Enabled || Key is not { } key)
        {
            return BuiltinToolResult.Error(ToolName + " is not configured on this gateway.");
        }

        string? title = call.String("title");
        if (string.IsNullOrWhiteSpace(title))
        {
            return BuiltinToolResult.Error("Give \"title\": the issue's title.");
        }

        string? team = call.String("team") is { } named && !string.IsNullOrWhiteSpace(named) ? named.Trim() : settings.DefaultTeam?.Trim();
        if (string.IsNullOrEmpty(team))
        {
            return BuiltinToolResult.Error("Give \"team\": the Linear team's key (such as ENG) or id.");
        }

        long? priority = call.Integer("priority");
        if (call.Get("priority").ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null) && priority is not (>= 0 and <= 4))
        {
            return BuiltinToolResult.Error("\"priority\" must be 0 (none), 1 (urgent), 2 (high), 3 (medium) or 4 (low).");
        }

        var client = httpClientFactory.CreateClient(BuiltinRegistration.HttpClientName(ToolName));
        string teamId = team;
        if (!Guid.TryParse(team, out _))
        {
            var lookup = await PostAsync(client, settings, key, TeamByKeyQuery, writer => writer.WriteString("key", team), cancellationToken).ConfigureAwait(false);
            if (lookup.Error is { } lookupError)
            {
                return lookupError;
            }

            if (!lookup.Data.TryGetProperty("teams", out var teams) || !teams.TryGetProperty("nodes", out var nodes)
                || nodes.ValueKind != JsonValueKind.Array || nodes.GetArrayLength() == 0 || Text(nodes[0], "id") is not { } id)
            {
                return BuiltinToolResult.Error($"Linear has no team with the key \"{team}\" that the operator's key can see; give the team's key (such as ENG) or id.");
            }

            teamId = id;
        }

        string? description = call.String("description");
        var created = await PostAsync(client, settings, key, IssueCreateMutation, writer =>
        {
            writer.WriteStartObject("input");
            writer.WriteString("teamId", teamId);
            writer.WriteString("title", title);
            writer.WriteOptional("description", description);
            if (priority is { } p)
            {
                writer.WriteNumber("priority", p);
            }

            writer.WriteEndObject();
        }, cancellationToken).ConfigureAwait(false);
        if (created.Error is { } createError)
        {
            return createError;
        }

        if (!created.Data.TryGetProperty("issueCreate", out var payload) || payload.ValueKind != JsonValueKind.Object
            || !payload.TryGetProperty("success", out var success) || success.ValueKind != JsonValueKind.True
            || !payload.TryGetProperty("issue", out var issue) || issue.ValueKind != JsonValueKind.Object)
        {
            return BuiltinToolResult.Error("Linear did not confirm the issue (success was not true).");
        }

        return BuiltinToolResult.Ok(VendorHttp.Json(writer =>
        {
            writer.WriteStartObject();
            writer.WriteOptional("identifier", Text(issue, "identifier"));
            writer.WriteOptional("url", Text(issue, "url"));
            writer.WriteOptional("id", Text(issue, "id"));
            writer.WriteEndObject();
        }));
    }

    /// <summary>Posts one GraphQL operation; the <c>data</c> object, or the error result for an HTTP failure or GraphQL errors.</summary>
    private async Task<(JsonElement Data, BuiltinToolResult? Error)> PostAsync(HttpClient client, LinearCreateIssueOptions settings, string key, string query,
        Action<Utf8JsonWriter> variables, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(VendorHttp.BaseUri(settings.BaseUrl, DefaultBaseUrl), "graphql"))
        {
            Content = VendorHttp.JsonContent(writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("query", query);
                writer.WriteStartObject("variables");
                variables(writer);
                writer.WriteEndObject();
                writer.WriteEndObject();
            }),
        };
        request.Headers.TryAddWithoutValidation("Authorization", key);
        var reply = await VendorHttp.SendAsync(client, request, settings.TimeoutSeconds, Vendor, cancellationToken).ConfigureAwait(false);
        if (reply.Failure is { } failure)
        {
            VendorHttp.LogFailed(logger, ToolName, 0);
            return (default, BuiltinToolResult.Error(failure));
        }

        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(reply.Body);
            root = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            VendorHttp.LogFailed(logger, ToolName, reply.Status);
            return (default, reply.IsSuccess
                ? BuiltinToolResult.Error("Linear answered with something that is not JSON; try again later.")
                : VendorHttp.StatusError(Vendor, reply, null, timeProvider));
        }

        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array && errors.GetArrayLength() > 0)
        {
            var first = errors[0];
            string? code = first.TryGetProperty("extensions", out var extensions) ? Text(extensions, "code") : null;
            string? message = (first.TryGetProperty("extensions", out var ext) ? Text(ext, "userPresentableMessage") : null) ?? Text(first, "message");
            VendorHttp.LogRefused(logger, ToolName, code ?? "graphql_error");
            return (default, code switch
            {
                "AUTHENTICATION_ERROR" => BuiltinToolResult.Error($"The operator's Linear key was refused{VendorHttp.Quote(message)}. This tool cannot be used until the operator fixes it."),
                "RATELIMITED" => VendorHttp.RateLimited(Vendor, reply.RetryAfterSeconds(timeProvider) ?? ResetSeconds(reply)),
                "FORBIDDEN" => BuiltinToolResult.Error($"The operator's Linear key may not do this{VendorHttp.Quote(message)}."),
                _ => BuiltinToolResult.Error($"Linear refused the request{VendorHttp.Quote(message)}."),
            });
        }

        if (!reply.IsSuccess)
        {
            VendorHttp.LogFailed(logger, ToolName, reply.Status);
            return (default, VendorHttp.StatusError(Vendor, reply, null, timeProvider));
        }

        return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
            ? (data, null)
            : (default, BuiltinToolResult.Error("Linear answered without data; try again later."));
    }

    /// <summary>Seconds until <c>X-RateLimit-Requests-Reset</c> (a UTC epoch time in milliseconds), or null.</summary>
    private long? ResetSeconds(VendorReply reply)
        => long.TryParse(reply.Header("X-RateLimit-Requests-Reset"), NumberStyles.None, CultureInfo.InvariantCulture, out long resetMs)
            ? Math.Max(0, (long)Math.Ceiling((resetMs - timeProvider.GetUtcNow().ToUnixTimeMilliseconds()) / 1000.0))
            : null;

    private static string? Text(JsonElement element, string name) => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
