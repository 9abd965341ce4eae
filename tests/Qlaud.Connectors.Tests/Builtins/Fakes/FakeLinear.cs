using System.Text.Json;

namespace Qlaud.Connectors.Tests.Builtins.Fakes;

/// <summary>Linear's GraphQL API as documented (https://linear.app/developers/graphql): <c>POST /graphql</c> with a personal API
/// key as the whole <c>Authorization</c> header (no <c>Bearer</c>), <c>{"query","variables"}</c> bodies, GraphQL errors with
/// <c>extensions.code</c>. It knows one team, <c>ENG</c>, and numbers the issues it creates from ENG-123.</summary>
public static class FakeLinear
{
    public const string Key = "lin_api_TestKey000000000000000000000000000000";
    public const string TeamId = "9cfb482a-81e3-4154-b5b9-2c805e70a02d";

    private static int _next = 122;

    public static VendorResponse Behaviour(VendorRequest request)
    {
        if (request.Method != "POST" || request.Path != "/graphql")
        {
            return new VendorResponse(404);
        }

        if (request.Header("Authorization") != Key)
        {
            return Errors(400, "AUTHENTICATION_ERROR", "authentication error", "Authentication required, not authenticated", "You need to authenticate to access this operation.");
        }

        if (request.Header("Content-Type") != "application/json")
        {
            return Errors(400, "INVALID_INPUT", "invalid input", "Content-Type must be application/json", null);
        }

        var body = request.Json();
        string query = body.GetProperty("query").GetString()!;
        var variables = body.GetProperty("variables");
        if (query.Contains("teams(filter:", StringComparison.Ordinal))
        {
            string key = variables.GetProperty("key").GetString()!;
            string nodes = key == "ENG" ? $$"""[{"id":"{{TeamId}}","key":"ENG","name":"Engineering"}]""" : "[]";
            return VendorResponse.Json(200, "{\"data\":{\"teams\":{\"nodes\":" + nodes + "}}}");
        }

        if (query.Contains("issueCreate(input: $input)", StringComparison.Ordinal))
        {
            var input = variables.GetProperty("input");
            if (input.GetProperty("teamId").GetString() != TeamId)
            {
                return Errors(200, "INPUT_ERROR", "invalid input", "Argument Validation Error", "Could not find referenced Team.");
            }

            int number = Interlocked.Increment(ref _next);
            string title = input.GetProperty("title").GetString()!;
            var issue = new Dictionary<string, object>
            {
                ["id"] = "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9",
                ["identifier"] = $"ENG-{number}",
                ["title"] = title,
                ["url"] = $"https://linear.app/acme/issue/ENG-{number}/" + title.ToLowerInvariant().Replace(' ', '-'),
            };
            return VendorResponse.Json(200, JsonSerializer.Serialize(new { data = new { issueCreate = new { success = true, issue } } }));
        }

        return Errors(400, "GRAPHQL_VALIDATION_FAILED", "graphql error", "Cannot query field", null);
    }

    /// <summary>A GraphQL error body with <paramref name="code"/>.</summary>
    public static VendorResponse Errors(int status, string code, string type, string message, string? userMessage, IReadOnlyDictionary<string, string>? headers = null)
    {
        var extensions = new Dictionary<string, object> { ["type"] = type, ["code"] = code };
        if (userMessage is not null)
        {
            extensions["userPresentableMessage"] = userMessage;
        }

        return VendorResponse.Json(status, JsonSerializer.Serialize(new { errors = new[] { new { message, extensions } } }), headers);
    }
}
