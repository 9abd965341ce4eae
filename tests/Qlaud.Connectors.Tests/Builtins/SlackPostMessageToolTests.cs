using System.Text.Json;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Builtins.Fakes;
using static Qlaud.Connectors.Tests.Builtins.BuiltinTestKit;

namespace Qlaud.Connectors.Tests.Builtins;

public sealed class SlackPostMessageToolTests
{
    private const string Name = "slack_post_message";

    private static Task<GatewayHost> StartAsync(FakeVendorServer slack, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Qlaud:Builtins:{Name}:ApiKey"] = FakeSlack.Token,
            [$"Qlaud:Builtins:{Name}:BaseUrl"] = slack.Url + "/api/",
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return GatewayHost.StartAsync(settings: settings);
    }

    [Fact]
    public async Task IsAvailable_KeyFromSettingsOrSlackBotTokenVariable_DisabledByEnabledFalse()
    {
        await using (var bare = await GatewayHost.StartAsync(settings: Unset("SLACK_BOT_TOKEN")))
        {
            Assert.False(Tool(bare, Name).IsAvailable);
        }

        await using (var byVariable = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["SLACK_BOT_TOKEN"] = FakeSlack.Token }))
        {
            Assert.True(Tool(byVariable, Name).IsAvailable);
            Assert.Equal(0, Tool(byVariable, Name).PriceMicros);
        }

        await using var disabled = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["SLACK_BOT_TOKEN"] = FakeSlack.Token,
            [$"Qlaud:Builtins:{Name}:Enabled"] = "false",
        });
        Assert.False(Tool(disabled, Name).IsAvailable);
        var refused = await CallAsync(Tool(disabled, Name), """{"channel":"C0123456789","text":"hi"}""");
        Assert.True(refused.IsError);
    }

    [Fact]
    public async Task Invoke_PostsTheDocumentedRequest_ReturnsChannelAndTs()
    {
        await using var slack = await FakeVendorServer.StartAsync(FakeSlack.Behaviour);
        await using var gateway = await StartAsync(slack, new() { [$"Qlaud:Builtins:{Name}:PriceUsd"] = "0.002" });
        var tool = Tool(gateway, Name);
        Assert.Equal(2000, tool.PriceMicros);

        var result = await CallAsync(tool, """{"channel":"C0123456789","text":"Deploy *done* ✅","thread_ts":"1503435956.000100"}""");

        Assert.Equal("""{"ok":true,"channel":"C0123456789","ts":"1503435956.000247"}""", result.Text);
        var request = Assert.Single(slack.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/api/chat.postMessage", request.Path);
        Assert.Equal("Bearer " + FakeSlack.Token, request.Header("Authorization"));
        Assert.Equal("application/json; charset=utf-8", request.Header("Content-Type"));
        Assert.Equal("""{"channel":"C0123456789","text":"Deploy *done* \u2705","thread_ts":"1503435956.000100"}""", request.Body);
    }

    [Fact]
    public async Task Invoke_DefaultChannel_UsedWhenTheModelNamesNone()
    {
        await using var slack = await FakeVendorServer.StartAsync(FakeSlack.Behaviour);
        await using var gateway = await StartAsync(slack, new() { [$"Qlaud:Builtins:{Name}:DefaultChannel"] = "#general" });

        var result = await CallAsync(Tool(gateway, Name), """{"text":"hello"}""");

        Assert.Equal("C0000000001", Json(result).GetProperty("channel").GetString());
        Assert.Equal("#general", Assert.Single(slack.Requests).Json().GetProperty("channel").GetString());
    }

    [Fact]
    public async Task Invoke_OkFalseErrors_AreErrorResultsTheModelCanActOn()
    {
        await using var slack = await FakeVendorServer.StartAsync(FakeSlack.Behaviour);
        await using var gateway = await StartAsync(slack);
        var tool = Tool(gateway, Name);

        var notFound = await CallAsync(tool, """{"channel":"#nowhere","text":"hi"}""");
        Assert.True(notFound.IsError);
        Assert.Contains("channel_not_found", notFound.Text, StringComparison.Ordinal);
        Assert.Contains("#nowhere", notFound.Text, StringComparison.Ordinal);

        await using var wrongKey = await StartAsync(slack, new() { [$"Qlaud:Builtins:{Name}:ApiKey"] = "xoxb-revoked" });
        var refused = await CallAsync(Tool(wrongKey, Name), """{"channel":"C0123456789","text":"hi"}""");
        Assert.True(refused.IsError);
        Assert.Contains("operator's Slack key was refused (invalid_auth)", refused.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invoke_BadArguments_ErrorWithoutCallingSlack()
    {
        await using var slack = await FakeVendorServer.StartAsync(FakeSlack.Behaviour);
        await using var gateway = await StartAsync(slack);
        var tool = Tool(gateway, Name);

        Assert.Contains("\"text\"", (await CallAsync(tool, """{"channel":"C0123456789"}""")).Text, StringComparison.Ordinal);
        Assert.Contains("\"channel\"", (await CallAsync(tool, """{"text":"hi"}""")).Text, StringComparison.Ordinal);
        Assert.True((await CallAsync(tool, """{"channel":42,"text":["no"]}""")).IsError);
        Assert.Empty(slack.Requests);
    }

    [Fact]
    public async Task Invoke_429WithRetryAfter_RetriedThenReportedWithTheWait()
    {
        await using var slack = await FakeVendorServer.StartAsync(FakeSlack.Behaviour);
        await using var gateway = await StartAsync(slack);
        var tool = Tool(gateway, Name);
        const string Limited = """{"ok":false,"error":"ratelimited"}""";

        slack.Enqueue(VendorResponse.RateLimited(1, Limited));
        var retried = await CallAsync(tool, """{"channel":"C0123456789","text":"hi"}""");
        Assert.False(retried.IsError, retried.Text);
        Assert.Equal(2, slack.Requests.Count);

        slack.Enqueue(VendorResponse.RateLimited(1, Limited), VendorResponse.RateLimited(1, Limited), VendorResponse.RateLimited(1, Limited));
        var limited = await CallAsync(tool, """{"channel":"C0123456789","text":"hi"}""");
        Assert.True(limited.IsError);
        Assert.Equal("Slack rate limited the call; retry after 1 s.", limited.Text);
        Assert.Equal(5, slack.Requests.Count);
    }

    [Fact]
    public async Task Invoke_5xx_ErrorAndNotRetried_SinceAPostMayHaveHappened()
    {
        await using var slack = await FakeVendorServer.StartAsync(FakeSlack.Behaviour);
        await using var gateway = await StartAsync(slack);
        slack.Enqueue(VendorResponse.Json(503, """{"ok":false,"error":"service_unavailable"}"""));

        var result = await CallAsync(Tool(gateway, Name), """{"channel":"C0123456789","text":"hi"}""");

        Assert.True(result.IsError);
        Assert.Equal("Slack failed (HTTP 503): service_unavailable; try again later.", result.Text);
        Assert.Single(slack.Requests);
    }
}
