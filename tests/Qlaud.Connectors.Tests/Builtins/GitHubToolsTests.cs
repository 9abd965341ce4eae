using System.Text.Json;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Builtins.Fakes;
using static Qlaud.Connectors.Tests.Builtins.BuiltinTestKit;

namespace Qlaud.Connectors.Tests.Builtins;

public sealed class GitHubToolsTests
{
    private const string CreateIssue = "github_create_issue";
    private const string SearchCode = "github_search_code";
    private const string GetFile = "github_get_file";
    private static readonly string[] Names = [CreateIssue, SearchCode, GetFile];

    private static Task<GatewayHost> StartAsync(FakeVendorServer github, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?> { ["GITHUB_TOKEN"] = FakeGitHub.Token };
        foreach (string name in Names)
        {
            settings[$"Qlaud:Builtins:{name}:BaseUrl"] = github.Url;
        }

        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return GatewayHost.StartAsync(settings: settings);
    }

    [Fact]
    public async Task IsAvailable_OneGitHubTokenServesAllThree_EachDisabledOrKeyedOnItsOwn()
    {
        await using (var bare = await GatewayHost.StartAsync(settings: Unset("GITHUB_TOKEN", "GH_TOKEN")))
        {
            Assert.All(Names, name => Assert.False(Tool(bare, name).IsAvailable));
        }

        await using (var shared = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["GITHUB_TOKEN"] = FakeGitHub.Token }))
        {
            Assert.All(Names, name => Assert.True(Tool(shared, name).IsAvailable));
            Assert.All(Names, name => Assert.Equal(0, Tool(shared, name).PriceMicros));
        }

        await using var separate = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            [$"Qlaud:Builtins:{SearchCode}:ApiKey"] = FakeGitHub.Token,
            [$"Qlaud:Builtins:{SearchCode}:PriceUsd"] = "0.0005",
            ["GH_TOKEN"] = FakeGitHub.Token,
            [$"Qlaud:Builtins:{CreateIssue}:Enabled"] = "false",
        });
        Assert.False(Tool(separate, CreateIssue).IsAvailable);
        Assert.True(Tool(separate, SearchCode).IsAvailable);
        Assert.Equal(500, Tool(separate, SearchCode).PriceMicros);
        Assert.True(Tool(separate, GetFile).IsAvailable);
    }

    [Fact]
    public async Task CreateIssue_SendsTheDocumentedRequest_ReturnsNumberAndUrl()
    {
        await using var github = await FakeVendorServer.StartAsync(FakeGitHub.Behaviour);
        await using var gateway = await StartAsync(github);

        var result = await CallAsync(Tool(gateway, CreateIssue),
            """{"owner":"octocat","repo":"hello-world","title":"Found a bug","body":"I'm having a problem with this.","labels":["bug"],"assignees":["octocat"]}""");

        Assert.Equal("""{"number":1347,"html_url":"https://github.com/octocat/hello-world/issues/1347","state":"open"}""", result.Text);
        var request = Assert.Single(github.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/repos/octocat/hello-world/issues", request.RawTarget);
        Assert.Equal("Bearer " + FakeGitHub.Token, request.Header("Authorization"));
        Assert.Equal("application/vnd.github+json", request.Header("Accept"));
        Assert.Equal("2026-03-10", request.Header("X-GitHub-Api-Version"));
        Assert.Equal("Qlaud", request.Header("User-Agent"));
        Assert.Equal("""{"title":"Found a bug","body":"I\u0027m having a problem with this.","labels":["bug"],"assignees":["octocat"]}""", request.Body);
    }

    [Fact]
    public async Task CreateIssue_Errors_ValidationNotFoundBadCredentialsAndBadArguments()
    {
        await using var github = await FakeVendorServer.StartAsync(FakeGitHub.Behaviour);
        await using var gateway = await StartAsync(github);
        var tool = Tool(gateway, CreateIssue);

        var invalid = await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","title":"t","assignees":["nobody"]}""");
        Assert.Equal("GitHub rejected the input (HTTP 422): Validation Failed; assignees invalid.", invalid.Text);

        var missing = await CallAsync(tool, """{"owner":"octocat","repo":"no-such-repo","title":"t"}""");
        Assert.True(missing.IsError);
        Assert.Contains("found no repository octocat/no-such-repo (HTTP 404)", missing.Text, StringComparison.Ordinal);

        int sent = github.Requests.Count;
        Assert.True((await CallAsync(tool, """{"owner":"octocat","repo":"../../user","title":"t"}""")).IsError);
        Assert.True((await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","title":" "}""")).IsError);
        Assert.True((await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","title":"t","labels":[1,2]}""")).IsError);
        Assert.Equal(sent, github.Requests.Count);

        await using var wrongKey = await StartAsync(github, new() { [$"Qlaud:Builtins:{CreateIssue}:ApiKey"] = "ghp_revoked" });
        var refused = await CallAsync(Tool(wrongKey, CreateIssue), """{"owner":"octocat","repo":"hello-world","title":"t"}""");
        Assert.Equal("The operator's GitHub key was refused: Bad credentials. This tool cannot be used until the operator fixes it.", refused.Text);
    }

    [Fact]
    public async Task CreateIssue_5xx_NotRetried_403RateLimitReportsTheReset()
    {
        await using var github = await FakeVendorServer.StartAsync(FakeGitHub.Behaviour);
        await using var gateway = await StartAsync(github);
        var tool = Tool(gateway, CreateIssue);

        github.Enqueue(VendorResponse.Json(502, """{"message":"Server Error"}"""));
        var failed = await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","title":"t"}""");
        Assert.Equal("GitHub failed (HTTP 502): Server Error; try again later.", failed.Text);
        Assert.Single(github.Requests);

        long reset = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 120;
        github.Enqueue(VendorResponse.Json(403, """{"message":"API rate limit exceeded for user ID 1.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}""",
            new Dictionary<string, string> { ["x-ratelimit-limit"] = "5000", ["x-ratelimit-remaining"] = "0", ["x-ratelimit-reset"] = reset.ToString(System.Globalization.CultureInfo.InvariantCulture) }));
        var limited = await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","title":"t"}""");
        Assert.True(limited.IsError);
        Assert.Matches(@"^GitHub rate limited the call; retry after 1(19|20) s\.$", limited.Text);
        Assert.Equal(2, github.Requests.Count);
    }

    [Fact]
    public async Task SearchCode_SendsQueryAndPageSize_ReturnsCompactItems()
    {
        await using var github = await FakeVendorServer.StartAsync(FakeGitHub.Behaviour);
        await using var gateway = await StartAsync(github);

        var result = Json(await CallAsync(Tool(gateway, SearchCode), """{"query":"print repo:octocat/hello-world language:python","max_results":5}"""));

        var request = Assert.Single(github.Requests);
        Assert.Equal("GET", request.Method);
        Assert.Equal("/search/code?q=print%20repo%3Aoctocat%2Fhello-world%20language%3Apython&per_page=5", request.RawTarget);
        Assert.Equal("print repo:octocat/hello-world language:python", request.QueryValue("q"));
        Assert.Equal("2026-03-10", request.Header("X-GitHub-Api-Version"));
        Assert.Equal(1, result.GetProperty("total_count").GetInt32());
        Assert.False(result.GetProperty("incomplete_results").GetBoolean());
        var item = Assert.Single(result.GetProperty("items").EnumerateArray());
        Assert.Equal("""{"repository":"octocat/hello-world","path":"src/app file.py","html_url":"https://github.com/octocat/hello-world/blob/main/src/app file.py","sha":"bbcd538c8e72b8c175046e27cc8f907076331401"}""", item.GetRawText());
    }

    [Fact]
    public async Task SearchCode_429And5xx_Retried_BadArgumentsNotSent()
    {
        await using var github = await FakeVendorServer.StartAsync(FakeGitHub.Behaviour);
        await using var gateway = await StartAsync(github);
        var tool = Tool(gateway, SearchCode);

        github.Enqueue(VendorResponse.RateLimited(1, """{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"""),
            VendorResponse.Json(502, """{"message":"Server Error"}"""));
        var result = await CallAsync(tool, """{"query":"Hello"}""");
        Assert.False(result.IsError, result.Text);
        Assert.Equal(3, github.Requests.Count);
        Assert.Equal("10", github.Requests[^1].QueryValue("per_page"));

        github.Enqueue(VendorResponse.RateLimited(1, "{}"), VendorResponse.RateLimited(1, "{}"), VendorResponse.RateLimited(1, "{}"));
        Assert.Equal("GitHub rate limited the call; retry after 1 s.", (await CallAsync(tool, """{"query":"Hello"}""")).Text);

        int sent = github.Requests.Count;
        Assert.True((await CallAsync(tool, """{"query":""}""")).IsError);
        Assert.True((await CallAsync(tool, """{"query":"x","max_results":500}""")).IsError);
        Assert.Equal(sent, github.Requests.Count);
    }

    [Fact]
    public async Task GetFile_DecodesBase64AtARef_EscapesThePath()
    {
        await using var github = await FakeVendorServer.StartAsync(FakeGitHub.Behaviour);
        await using var gateway = await StartAsync(github);
        var tool = Tool(gateway, GetFile);

        var readme = Json(await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","path":"README.md"}"""));
        Assert.Equal("# Hello World\nGrüße from the fake.\n", readme.GetProperty("content").GetString());
        Assert.False(readme.GetProperty("truncated").GetBoolean());
        Assert.Equal(FakeGitHub.Files["README.md"].Length, readme.GetProperty("size").GetInt32());
        Assert.Equal("/repos/octocat/hello-world/contents/README.md", github.Requests[^1].RawTarget);

        var v1 = Json(await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","path":"/README.md","ref":"v1"}"""));
        Assert.Equal("# Hello v1\n", v1.GetProperty("content").GetString());
        Assert.Equal("/repos/octocat/hello-world/contents/README.md?ref=v1", github.Requests[^1].RawTarget);

        var spaced = Json(await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","path":"src/app file.py"}"""));
        Assert.Equal("print('hello')\n", spaced.GetProperty("content").GetString());
        Assert.Equal("/repos/octocat/hello-world/contents/src/app%20file.py", github.Requests[^1].RawTarget);

        var dir = Json(await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","path":"src"}"""));
        Assert.Equal("dir", dir.GetProperty("type").GetString());
        Assert.Equal("src/app file.py", Assert.Single(dir.GetProperty("entries").EnumerateArray()).GetProperty("path").GetString());
    }

    [Fact]
    public async Task GetFile_SizeLimitBinaryTooLargeMissingAndTraversal()
    {
        await using var github = await FakeVendorServer.StartAsync(FakeGitHub.Behaviour);
        await using var gateway = await StartAsync(github, new() { [$"Qlaud:Builtins:{GetFile}:MaxFileBytes"] = "17" });
        var tool = Tool(gateway, GetFile);

        // "# Hello World\nGr" is 16 bytes; the 17th byte is the first of the two of 'ü', which is not cut in half.
        var cut = Json(await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","path":"README.md"}"""));
        Assert.True(cut.GetProperty("truncated").GetBoolean());
        Assert.Equal("# Hello World\nGr", cut.GetProperty("content").GetString());

        var binary = await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","path":"logo.png"}""");
        Assert.Equal("\"logo.png\" is a binary file (12 bytes), not text.", binary.Text);

        var huge = await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","path":"huge.bin"}""");
        Assert.True(huge.IsError);
        Assert.StartsWith("The file is 5000000 bytes", huge.Text, StringComparison.Ordinal);

        var missing = await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","path":"nope.txt","ref":"main"}""");
        Assert.Equal("GitHub found no file \"nope.txt\" in octocat/hello-world at \"main\" (HTTP 404), or the operator's token cannot see it.", missing.Text);

        int sent = github.Requests.Count;
        Assert.True((await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","path":"src/../../../user"}""")).IsError);
        Assert.True((await CallAsync(tool, """{"owner":"octocat","repo":"hello-world","path":""}""")).IsError);
        Assert.Equal(sent, github.Requests.Count);
    }
}
