using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace Qlaud.Connectors.Builtins.GitHub;

/// <summary>The REST client the GitHub builtins share: GitHub's standard headers, and its errors (401, rate limits as 403 or 429
/// with <c>x-ratelimit-remaining: 0</c>, 404, 410, 422 validation errors, 5xx) as texts the model can act on.</summary>
/// <remarks>
/// API references: https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api (headers:
/// <c>Authorization: Bearer</c>, <c>Accept: application/vnd.github+json</c>, <c>X-GitHub-Api-Version</c>, a required
/// <c>User-Agent</c>), https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api (403/429 with
/// <c>x-ratelimit-remaining: 0</c> until <c>x-ratelimit-reset</c>, or <c>retry-after</c> for secondary limits) and
/// https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api (422 <c>Validation Failed</c> with <c>errors</c>).
/// </remarks>
internal sealed partial class GitHubApi(HttpClient client, GitHubToolOptions options, string token, TimeProvider timeProvider)
{
    /// <summary>The vendor's name in error texts.</summary>
    public const string Vendor = "GitHub";

    /// <summary>The REST API's published base URL.</summary>
    public const string DefaultBaseUrl = "https://api.github.com/";

    /// <summary>The operator's token: the tool's <c>ApiKey</c>, else <c>GITHUB_TOKEN</c>, else <c>GH_TOKEN</c>.</summary>
    public static string? Token(GitHubToolOptions options, IConfiguration configuration) => VendorHttp.Key(options.ApiKey, configuration, "GITHUB_TOKEN", "GH_TOKEN");

    /// <summary>Whether <paramref name="name"/> is a GitHub owner or repository name (letters, digits, <c>-</c>, <c>_</c>, <c>.</c>).</summary>
    public static bool IsName([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? name) => name is not null && NamePattern().IsMatch(name) && name is not "." and not "..";

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,100}$")]
    private static partial Regex NamePattern();

    /// <summary>Sends one request to <paramref name="relativeUrl"/> (relative to the base URL, no leading slash).</summary>
    public async Task<VendorReply> SendAsync(HttpMethod method, string relativeUrl, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(VendorHttp.BaseUri(options.BaseUrl, DefaultBaseUrl), relativeUrl)) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.github+json"));
        request.Headers.TryAddWithoutValidation("X-GitHub-Api-Version", options.ApiVersion);
        request.Headers.TryAddWithoutValidation("User-Agent", options.UserAgent);
        return await VendorHttp.SendAsync(client, request, options.TimeoutSeconds, Vendor, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The error result for a failed answer; <paramref name="notFound"/> says what a 404 means for this call.</summary>
    public BuiltinToolResult Error(VendorReply reply, string notFound)
    {
        if (reply.Failure is { } failure)
        {
            return BuiltinToolResult.Error(failure);
        }

        string? message = VendorHttp.JsonString(reply.Body, "message");
        bool exhausted = reply.Header("x-ratelimit-remaining") == "0";
        if (reply.Status is 403 or 429 && (exhausted || reply.Headers?.RetryAfter is not null || reply.Status == 429
            || message?.Contains("rate limit", StringComparison.OrdinalIgnoreCase) == true))
        {
            long? wait = reply.RetryAfterSeconds(timeProvider);
            if (wait is null && exhausted && long.TryParse(reply.Header("x-ratelimit-reset"), NumberStyles.None, CultureInfo.InvariantCulture, out long reset))
            {
                wait = Math.Max(0, reset - timeProvider.GetUtcNow().ToUnixTimeSeconds());
            }

            return VendorHttp.RateLimited(Vendor, wait ?? (reply.Status == 403 ? 60 : null));
        }

        return reply.Status switch
        {
            401 => VendorHttp.StatusError(Vendor, reply, message, timeProvider),
            403 => BuiltinToolResult.Error($"GitHub does not let the operator's token do this (HTTP 403){VendorHttp.Quote(message)}."),
            404 => BuiltinToolResult.Error($"GitHub found no {notFound} (HTTP 404), or the operator's token cannot see it."),
            410 => BuiltinToolResult.Error($"GitHub says this is gone (HTTP 410){VendorHttp.Quote(message)}."),
            422 => BuiltinToolResult.Error($"GitHub rejected the input (HTTP 422){VendorHttp.Quote(ValidationDetail(reply.Body, message))}."),
            _ => VendorHttp.StatusError(Vendor, reply, message, timeProvider),
        };
    }

    /// <summary>GitHub's <c>message</c> with the <c>errors</c> of a 422 (<c>resource</c>, <c>field</c>, <c>code</c> or <c>message</c>).</summary>
    private static string? ValidationDetail(string body, string? message)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (!document.RootElement.TryGetProperty("errors", out var errors) || errors.ValueKind != JsonValueKind.Array)
            {
                return message;
            }

            var text = new StringBuilder(message ?? "Validation Failed");
            foreach (var error in errors.EnumerateArray())
            {
                text.Append("; ");
                if (error.ValueKind == JsonValueKind.String)
                {
                    text.Append(error.GetString());
                    continue;
                }

                if (error.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                if (error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                {
                    text.Append(m.GetString());
                }
                else
                {
                    text.Append(Field(error, "field") ?? "input").Append(' ').Append(Field(error, "code") ?? "invalid");
                }
            }

            return text.ToString();
        }
        catch (JsonException)
        {
            return message;
        }

        static string? Field(JsonElement error, string name) => error.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }
}
