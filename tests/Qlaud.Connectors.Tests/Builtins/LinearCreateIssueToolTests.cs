using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Builtins.Linear;
using Qlaud.Connectors.Tests.Builtins.Fakes;
using static Qlaud.Connectors.Tests.Builtins.BuiltinTestKit;

namespace Qlaud.Connectors.Tests.Builtins;

public sealed class LinearCreateIssueToolTests
{
    private const string Name = "linear_create_issue";

    private static Task<GatewayHost> StartAsync(FakeVendorServer linear, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Qlaud:Builtins:{Name}:ApiKey"] = FakeLinear.Key,
            [$"Qlaud:Builtins:{Name}:BaseUrl"] = linear.Url,
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return GatewayHost.StartAsync(settings: settings);
    }

    [Fact]
    public async Task IsAvailable_KeyFromSettingsOrLinearApiKeyVariable_DisabledByEnabledFalse()
    {
        await using (var bare = await GatewayHost.StartAsync(settings: Unset("LINEAR_API_KEY")))
        {
            Assert.False(Tool(bare, Name).IsAvailable);
        }

        await using (var byVariable = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["LINEAR_API_KEY"] = FakeLinear.Key }))
        {
            Assert.True(Tool(byVariable, Name).IsAvailable);
            Assert.Equal(0, Tool(byVariable, Name).PriceMicros);
        }

        await using var disabled = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["LINEAR_API_KEY"] = FakeLinear.Key,
            [$"Qlaud:Builtins:{Name}:Enabled"] = "false",
            [$"Qlaud:Builtins:{Name}:PriceUsd"] = "0.01",
        });
        Assert.False(Tool(disabled, Name).IsAvailable);
        Assert.Equal(10_000, Tool(disabled, Name).PriceMicros);
    }

    [Fact]
    public async Task Invoke_TeamId_SendsTheIssueCreateMutationWithTheKeyAsAuthorization()
    {
        await using var linear = await FakeVendorServer.StartAsync(FakeLinear.Behaviour);
        await using var gateway = await StartAsync(linear);

        var result = Json(await CallAsync(Tool(gateway, Name),
            $$"""{"title":"Login fails on Safari","description":"Steps:\n1. open","team":"{{FakeLinear.TeamId}}","priority":2}"""));

        Assert.Matches(@"^ENG-\d+$", result.GetProperty("identifier").GetString());
        Assert.StartsWith("https://linear.app/acme/issue/ENG-", result.GetProperty("url").GetString(), StringComparison.Ordinal);
        var request = Assert.Single(linear.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/graphql", request.Path);
        Assert.Equal(FakeLinear.Key, request.Header("Authorization"));
        Assert.Equal("application/json", request.Header("Content-Type"));
        Assert.Equal(
            "{\"query\":\"" + LinearCreateIssueTool.IssueCreateMutation + "\",\"variables\":{\"input\":{\"teamId\":\"" + FakeLinear.TeamId + "\",\"title\":\"Login fails on Safari\",\"description\":\"Steps:\\n1. open\",\"priority\":2}}}",
            request.Body);
    }

    [Fact]
    public async Task Invoke_TeamKeyOrDefaultTeam_LooksTheKeyUpFirst()
    {
        await using var linear = await FakeVendorServer.StartAsync(FakeLinear.Behaviour);
        await using var gateway = await StartAsync(linear, new() { [$"Qlaud:Builtins:{Name}:DefaultTeam"] = "ENG" });
        var tool = Tool(gateway, Name);

        var byDefault = await CallAsync(tool, """{"title":"Crash"}""");
        Assert.False(byDefault.IsError, byDefault.Text);
        Assert.Equal(2, linear.Requests.Count);
        Assert.Equal("""{"query":"query TeamByKey($key: String!) { teams(filter: { key: { eq: $key } }) { nodes { id key name } } }","variables":{"key":"ENG"}}""", linear.Requests[0].Body);
        Assert.Equal(FakeLinear.TeamId, linear.Requests[1].Json().GetProperty("variables").GetProperty("input").GetProperty("teamId").GetString());

        var unknown = await CallAsync(tool, """{"title":"Crash","team":"XYZ"}""");
        Assert.Equal("Linear has no team with the key \"XYZ\" that the operator's key can see; give the team's key (such as ENG) or id.", unknown.Text);
        Assert.Equal(3, linear.Requests.Count);
    }

    [Fact]
    public async Task Invoke_GraphQLErrors_AreErrorResults()
    {
        await using var linear = await FakeVendorServer.StartAsync(FakeLinear.Behaviour);
        await using var gateway = await StartAsync(linear);
        var tool = Tool(gateway, Name);

        var input = await CallAsync(tool, """{"title":"t","team":"00000000-0000-0000-0000-000000000001"}""");
        Assert.Equal("Linear refused the request: Could not find referenced Team..", input.Text);

        long reset = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 30_000;
        linear.Enqueue(FakeLinear.Errors(400, "RATELIMITED", "ratelimited", "Rate limit exceeded", null,
            new Dictionary<string, string> { ["X-RateLimit-Requests-Remaining"] = "0", ["X-RateLimit-Requests-Reset"] = reset.ToString(System.Globalization.CultureInfo.InvariantCulture) }));
        var limited = await CallAsync(tool, $$"""{"title":"t","team":"{{FakeLinear.TeamId}}"}""");
        Assert.Matches(@"^Linear rate limited the call; retry after (29|30) s\.$", limited.Text);

        await using var wrongKey = await StartAsync(linear, new() { [$"Qlaud:Builtins:{Name}:ApiKey"] = "Bearer " + FakeLinear.Key });
        var refused = await CallAsync(Tool(wrongKey, Name), $$"""{"title":"t","team":"{{FakeLinear.TeamId}}"}""");
        Assert.Equal("The operator's Linear key was refused: You need to authenticate to access this operation.. This tool cannot be used until the operator fixes it.", refused.Text);
    }

    [Fact]
    public async Task Invoke_Http429Retried_5xxNotRetried_BadArgumentsNotSent()
    {
        await using var linear = await FakeVendorServer.StartAsync(FakeLinear.Behaviour);
        await using var gateway = await StartAsync(linear);
        var tool = Tool(gateway, Name);
        string args = $$"""{"title":"t","team":"{{FakeLinear.TeamId}}"}""";

        linear.Enqueue(VendorResponse.RateLimited(1, """{"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATELIMITED"}}]}"""));
        Assert.False((await CallAsync(tool, args)).IsError);
        Assert.Equal(2, linear.Requests.Count);

        linear.Enqueue(VendorResponse.Json(503, "upstream unavailable"));
        Assert.Equal("Linear failed (HTTP 503); try again later.", (await CallAsync(tool, args)).Text);
        Assert.Equal(3, linear.Requests.Count);

        Assert.True((await CallAsync(tool, """{"team":"ENG"}""")).IsError);
        Assert.True((await CallAsync(tool, """{"title":"t"}""")).IsError);
        Assert.True((await CallAsync(tool, """{"title":"t","team":"ENG","priority":9}""")).IsError);
        Assert.Equal(3, linear.Requests.Count);
    }
}
