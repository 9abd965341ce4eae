using System.Text;
using System.Text.Json;

namespace Qlaud.Connectors.Tests.Builtins.Fakes;

/// <summary>GitHub's REST API for the GitHub builtins, as documented (https://docs.github.com/en/rest): <c>Authorization: Bearer</c>,
/// <c>Accept: application/vnd.github+json</c>, <c>X-GitHub-Api-Version</c> and a <c>User-Agent</c> on every request; one
/// repository <c>octocat/hello-world</c> with issues, code search and contents; errors in GitHub's shapes (401 Bad credentials,
/// 404 Not Found, 422 Validation Failed).</summary>
public static class FakeGitHub
{
    public const string Token = "ghp_TestToken0000000000000000000000000000";
    public const string ApiVersion = "2026-03-10";

    /// <summary>Files of <c>octocat/hello-world</c> on its default branch.</summary>
    public static readonly Dictionary<string, byte[]> Files = new(StringComparer.Ordinal)
    {
        ["README.md"] = Encoding.UTF8.GetBytes("# Hello World\nGrüße from the fake.\n"),
        ["src/app file.py"] = Encoding.UTF8.GetBytes("print('hello')\n"),
        ["logo.png"] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0xFF, 0xFE],
    };

    /// <summary>The README at the tag <c>v1</c>.</summary>
    public static readonly byte[] ReadmeAtV1 = Encoding.UTF8.GetBytes("# Hello v1\n");

    private const string Docs = "https://docs.github.com/rest";

    public static VendorResponse Behaviour(VendorRequest request)
    {
        if (request.Header("Authorization") != "Bearer " + Token)
        {
            return VendorResponse.Json(401, $$"""{"message":"Bad credentials","documentation_url":"{{Docs}}","status":"401"}""");
        }

        if (string.IsNullOrEmpty(request.Header("User-Agent")))
        {
            return VendorResponse.Json(403, """{"message":"Request forbidden by administrative rules. Please make sure your request has a User-Agent header."}""");
        }

        if (request.Header("Accept") != "application/vnd.github+json" || request.Header("X-GitHub-Api-Version") != ApiVersion)
        {
            return VendorResponse.Json(400, $$"""{"message":"Unsupported media type or API version","documentation_url":"{{Docs}}","status":"400"}""");
        }

        if (request.Method == "POST" && request.Path == "/repos/octocat/hello-world/issues")
        {
            return CreateIssue(request.Json());
        }

        if (request.Method == "GET" && request.Path == "/search/code")
        {
            return SearchCode(request.QueryValue("q"), int.Parse(request.QueryValue("per_page") ?? "30", System.Globalization.CultureInfo.InvariantCulture));
        }

        const string Contents = "/repos/octocat/hello-world/contents/";
        if (request.Method == "GET" && request.Path.StartsWith(Contents, StringComparison.Ordinal))
        {
            return GetContent(Uri.UnescapeDataString(request.Path[Contents.Length..]), request.QueryValue("ref"));
        }

        return NotFound();
    }

    private static VendorResponse NotFound() => VendorResponse.Json(404, $$"""{"message":"Not Found","documentation_url":"{{Docs}}","status":"404"}""");

    private static VendorResponse CreateIssue(JsonElement body)
    {
        if (!body.TryGetProperty("title", out var title) || string.IsNullOrEmpty(title.GetString()))
        {
            return VendorResponse.Json(422, $$"""{"message":"Validation Failed","errors":[{"resource":"Issue","code":"missing_field","field":"title"}],"documentation_url":"{{Docs}}","status":"422"}""");
        }

        if (body.TryGetProperty("assignees", out var assignees) && assignees.EnumerateArray().Any(a => a.GetString() != "octocat"))
        {
            string bad = assignees.EnumerateArray().First(a => a.GetString() != "octocat").GetString()!;
            return VendorResponse.Json(422, $$"""{"message":"Validation Failed","errors":[{"value":"{{bad}}","resource":"Issue","field":"assignees","code":"invalid"}],"documentation_url":"{{Docs}}","status":"422"}""");
        }

        var issue = new Dictionary<string, object?>
        {
            ["id"] = 1,
            ["node_id"] = "MDU6SXNzdWUx",
            ["url"] = "https://api.github.com/repos/octocat/hello-world/issues/1347",
            ["html_url"] = "https://github.com/octocat/hello-world/issues/1347",
            ["number"] = 1347,
            ["state"] = "open",
            ["title"] = title.GetString(),
            ["body"] = body.TryGetProperty("body", out var text) ? text.GetString() : null,
            ["user"] = new Dictionary<string, object> { ["login"] = "octocat", ["id"] = 1 },
            ["labels"] = Array.Empty<object>(),
            ["assignees"] = Array.Empty<object>(),
            ["comments"] = 0,
            ["created_at"] = "2011-04-22T13:33:48Z",
        };
        return VendorResponse.Json(201, JsonSerializer.Serialize(issue), new Dictionary<string, string> { ["Location"] = "https://api.github.com/repos/octocat/hello-world/issues/1347" });
    }

    private static VendorResponse SearchCode(string? q, int perPage)
    {
        if (string.IsNullOrWhiteSpace(q))
        {
            return VendorResponse.Json(422, $$"""{"message":"Validation Failed","errors":[{"resource":"Search","field":"q","code":"missing"}],"documentation_url":"{{Docs}}","status":"422"}""");
        }

        var items = Files.Keys
            .Where(path => Encoding.UTF8.GetString(Files[path]).Contains(q.Split(' ')[0], StringComparison.OrdinalIgnoreCase))
            .Take(perPage)
            .Select(path => new Dictionary<string, object>
            {
                ["name"] = path.Split('/')[^1],
                ["path"] = path,
                ["sha"] = "bbcd538c8e72b8c175046e27cc8f907076331401",
                ["url"] = "https://api.github.com/repositories/1296269/contents/" + path,
                ["git_url"] = "https://api.github.com/repositories/1296269/git/blobs/bbcd538c8e72b8c175046e27cc8f907076331401",
                ["html_url"] = "https://github.com/octocat/hello-world/blob/main/" + path,
                ["repository"] = new Dictionary<string, object> { ["id"] = 1296269, ["name"] = "hello-world", ["full_name"] = "octocat/hello-world", ["private"] = false },
                ["score"] = 1,
            })
            .ToList();
        return VendorResponse.Json(200, JsonSerializer.Serialize(new Dictionary<string, object> { ["total_count"] = items.Count, ["incomplete_results"] = false, ["items"] = items }));
    }

    private static VendorResponse GetContent(string path, string? gitRef)
    {
        if (path == "src")
        {
            var entries = Files.Keys.Where(p => p.StartsWith("src/", StringComparison.Ordinal)).Select(p => Entry(p, "file", Files[p].Length)).ToList();
            return VendorResponse.Json(200, JsonSerializer.Serialize(entries));
        }

        if (path == "huge.bin")
        {
            var big = Entry(path, "file", 5_000_000);
            big["encoding"] = "none";
            big["content"] = "";
            return VendorResponse.Json(200, JsonSerializer.Serialize(big));
        }

        byte[]? bytes = gitRef switch
        {
            null => Files.GetValueOrDefault(path),
            "v1" when path == "README.md" => ReadmeAtV1,
            _ => null,
        };
        if (bytes is null)
        {
            return NotFound();
        }

        // GitHub wraps the base64 content at 60 characters with "\n".
        string base64 = Convert.ToBase64String(bytes);
        var wrapped = new StringBuilder();
        for (int i = 0; i < base64.Length; i += 60)
        {
            wrapped.Append(base64, i, Math.Min(60, base64.Length - i)).Append('\n');
        }

        var file = Entry(path, "file", bytes.Length);
        file["encoding"] = "base64";
        file["content"] = wrapped.ToString();
        return VendorResponse.Json(200, JsonSerializer.Serialize(file));
    }

    private static Dictionary<string, object> Entry(string path, string type, long size) => new()
    {
        ["type"] = type,
        ["size"] = size,
        ["name"] = path.Split('/')[^1],
        ["path"] = path,
        ["sha"] = "3d21ec53a331a6f037a91c368710b99387d012c1",
        ["url"] = "https://api.github.com/repos/octocat/hello-world/contents/" + path,
        ["git_url"] = "https://api.github.com/repos/octocat/hello-world/git/blobs/3d21ec53a331a6f037a91c368710b99387d012c1",
        ["html_url"] = "https://github.com/octocat/hello-world/blob/main/" + path,
        ["download_url"] = "https://raw.githubusercontent.com/octocat/hello-world/main/" + path,
    };
}
