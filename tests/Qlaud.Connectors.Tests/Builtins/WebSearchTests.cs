using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Builtins;
using Qlaud.Connectors.Tests.Builtins.Fakes;

namespace Qlaud.Connectors.Tests.Builtins;

/// <summary>The <c>web_search</c> builtin against fake Brave and Tavily servers over real HTTP, resolved from a real gateway.</summary>
public sealed class WebSearchTests
{
    private const string BraveKey = "BSA_test_key_0123456789";
    private const string TavilyKey = "tvly-test-0123456789";

    [Fact]
    public async Task Brave_SendsTheDocumentedRequest_AndAnswersCompactResults()
    {
        await using var brave = await FakeBraveSearch.StartAsync(BraveKey);
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_search:ApiKey"] = BraveKey, ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url });
        var tool = Tool(gateway);

        var result = await tool.InvokeAsync(Call("""{"query":"dotnet gateway","count":2}"""), CancellationToken.None);

        Assert.True(tool.IsAvailable);
        Assert.False(result.IsError, result.Text);
        Assert.Equal("""{"results":[{"title":"Result 1 for dotnet gateway & more","url":"https://example.com/1","snippet":"The dotnet gateway page number 1, with \"quotes\"."},{"title":"Result 2 for dotnet gateway & more","url":"https://example.com/2","snippet":"The dotnet gateway page number 2, with \"quotes\"."}]}""", result.Text);
        var request = Assert.Single(brave.Requests);
        Assert.Equal(("GET", "/res/v1/web/search?q=dotnet%20gateway&count=2"), (request.Method, request.PathAndQuery));
        Assert.Equal(BraveKey, request.Headers["X-Subscription-Token"]);
        Assert.Equal("application/json", request.Headers["Accept"]);
        Assert.False(request.Headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task Brave_CountDefaultsToFive_AndIsCappedAtTwenty()
    {
        await using var brave = await FakeBraveSearch.StartAsync(BraveKey);
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_search:ApiKey"] = BraveKey, ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url });
        var tool = Tool(gateway);

        var fewer = await tool.InvokeAsync(Call("""{"query":"a"}"""), CancellationToken.None);
        var more = await tool.InvokeAsync(Call("""{"query":"b","count":50}"""), CancellationToken.None);

        Assert.Equal(5, Results(fewer).Count);
        Assert.Equal(20, Results(more).Count);
        Assert.EndsWith("&count=5", brave.Requests[0].PathAndQuery, StringComparison.Ordinal);
        Assert.EndsWith("&count=20", brave.Requests[1].PathAndQuery, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Brave_KeyFromTheEnvironmentVariable_MakesTheToolAvailable()
    {
        await using var brave = await FakeBraveSearch.StartAsync(BraveKey);
        await using var gateway = await StartAsync(new() { ["BRAVE_API_KEY"] = BraveKey, ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url });
        var tool = Tool(gateway);

        var result = await tool.InvokeAsync(Call("""{"query":"env"}"""), CancellationToken.None);

        Assert.True(tool.IsAvailable);
        Assert.False(result.IsError, result.Text);
        Assert.Equal(BraveKey, Assert.Single(brave.Requests).Headers["X-Subscription-Token"]);
    }

    [Fact]
    public async Task WebSearch_WithoutAnyKey_OrDisabled_IsNotAvailable()
    {
        await using (var bare = await StartAsync([]))
        {
            Assert.False(Tool(bare).IsAvailable);
        }

        await using var disabled = await StartAsync(new() { ["Qlaud:Builtins:web_search:ApiKey"] = BraveKey, ["Qlaud:Builtins:web_search:Enabled"] = "false" });
        Assert.False(Tool(disabled).IsAvailable);
    }

    [Fact]
    public async Task Price_DefaultsToTheVendorsListPrice_AndPriceUsdOverridesIt()
    {
        await using (var brave = await StartAsync(new() { ["Qlaud:Builtins:web_search:ApiKey"] = BraveKey }))
        {
            Assert.Equal(5_000, Tool(brave).PriceMicros);
        }

        await using (var tavily = await StartAsync(new() { ["Qlaud:Builtins:web_search:TavilyApiKey"] = TavilyKey }))
        {
            Assert.Equal(8_000, Tool(tavily).PriceMicros);
        }

        await using var priced = await StartAsync(new() { ["Qlaud:Builtins:web_search:ApiKey"] = BraveKey, ["Qlaud:Builtins:web_search:PriceUsd"] = "0.0123" });
        Assert.Equal(12_300, Tool(priced).PriceMicros);
    }

    [Fact]
    public async Task Brave_RefusedKey_IsAnErrorTheModelCanRead_AndIsNotRetried()
    {
        await using var brave = await FakeBraveSearch.StartAsync("BSA_the_right_key");
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_search:ApiKey"] = BraveKey, ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url });

        var result = await Tool(gateway).InvokeAsync(Call("""{"query":"x"}"""), CancellationToken.None);

        Assert.True(result.IsError);
        Assert.Equal("web_search is unavailable: the operator's Brave key was refused (HTTP 401: The provided subscription token is invalid.). Do not retry; answer without web search.", result.Text);
        Assert.Single(brave.Requests);
    }

    [Fact]
    public async Task Brave_429WithRetryAfter_IsRetriedAfterTheDelay()
    {
        await using var brave = await FakeBraveSearch.StartAsync(BraveKey);
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_search:ApiKey"] = BraveKey, ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url });
        brave.FailNext(429, retryAfter: "1");
        var clock = Stopwatch.StartNew();

        var result = await Tool(gateway).InvokeAsync(Call("""{"query":"retry"}"""), CancellationToken.None);

        Assert.False(result.IsError, result.Text);
        Assert.Equal(2, brave.Requests.Count);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"retried after {clock.Elapsed}");
    }

    [Fact]
    public async Task Brave_429ThatLasts_IsAnErrorNamingTheWait()
    {
        await using var brave = await FakeBraveSearch.StartAsync(BraveKey);
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_search:ApiKey"] = BraveKey, ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url });
        brave.FailNext(429, retryAfter: "1", times: 3);

        var result = await Tool(gateway).InvokeAsync(Call("""{"query":"busy"}"""), CancellationToken.None);

        Assert.True(result.IsError);
        Assert.Equal("Brave rate limited the search; retry after 1 s.", result.Text);
        Assert.Equal(3, brave.Requests.Count); // the first try and two retries
    }

    [Fact]
    public async Task Brave_ServerError_IsRetried_ThenAnError()
    {
        await using var brave = await FakeBraveSearch.StartAsync(BraveKey);
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_search:ApiKey"] = BraveKey, ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url });
        brave.FailNext(503, times: 3);

        var result = await Tool(gateway).InvokeAsync(Call("""{"query":"down"}"""), CancellationToken.None);

        Assert.True(result.IsError);
        Assert.Equal("Brave failed (HTTP 503: An unexpected error occurred.); try again later.", result.Text);
        Assert.Equal(3, brave.Requests.Count);

        brave.FailNext(500);
        var recovered = await Tool(gateway).InvokeAsync(Call("""{"query":"up"}"""), CancellationToken.None);
        Assert.False(recovered.IsError, recovered.Text);
    }

    [Fact]
    public async Task Brave_TooSlow_EndsAtTheTimeLimit()
    {
        await using var brave = await FakeBraveSearch.StartAsync(BraveKey);
        await using var gateway = await StartAsync(new()
        {
            ["Qlaud:Builtins:web_search:ApiKey"] = BraveKey,
            ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url,
            ["Qlaud:Builtins:web_search:TimeoutSeconds"] = "1",
        });
        brave.Delay = TimeSpan.FromSeconds(20);
        var clock = Stopwatch.StartNew();

        var result = await Tool(gateway).InvokeAsync(Call("""{"query":"slow"}"""), CancellationToken.None);

        Assert.Equal((true, "Brave did not answer within 1 s; try again later."), (result.IsError, result.Text));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed}");
    }

    [Theory]
    [InlineData("""{}""", "query is required: the search terms, as a string.")]
    [InlineData("""{"query":"   "}""", "query is required: the search terms, as a string.")]
    [InlineData("""{"query":42}""", "query is required: the search terms, as a string.")]
    [InlineData("""{"query":"x","count":"five"}""", "count must be an integer from 1 to 20.")]
    [InlineData("""{"query":"x","count":2.5}""", "count must be an integer from 1 to 20.")]
    public async Task BadArguments_AreErrors_AndNoVendorCall(string arguments, string error)
    {
        await using var brave = await FakeBraveSearch.StartAsync(BraveKey);
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_search:ApiKey"] = BraveKey, ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url });

        var result = await Tool(gateway).InvokeAsync(Call(arguments), CancellationToken.None);

        Assert.Equal((true, error), (result.IsError, result.Text));
        Assert.Empty(brave.Requests);
    }

    [Fact]
    public async Task Brave_QueryOverItsLimits_IsAnError_AndNoVendorCall()
    {
        await using var brave = await FakeBraveSearch.StartAsync(BraveKey);
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_search:ApiKey"] = BraveKey, ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url });
        var tool = Tool(gateway);

        var tooLong = await tool.InvokeAsync(Call(JsonSerializer.Serialize(new { query = new string('a', 401) })), CancellationToken.None);
        var tooManyWords = await tool.InvokeAsync(Call(JsonSerializer.Serialize(new { query = string.Join(' ', Enumerable.Repeat("w", 51)) })), CancellationToken.None);
        var atTheLimit = await tool.InvokeAsync(Call(JsonSerializer.Serialize(new { query = string.Join(' ', Enumerable.Repeat("w", 50)) })), CancellationToken.None);

        Assert.True(tooLong.IsError);
        Assert.True(tooManyWords.IsError);
        Assert.Contains("at most 400 characters and 50 words", tooLong.Text, StringComparison.Ordinal);
        Assert.False(atTheLimit.IsError, atTheLimit.Text);
        Assert.Single(brave.Requests);
    }

    [Fact]
    public async Task Tavily_SendsTheDocumentedRequest_AndAnswersCompactResults()
    {
        await using var tavily = await FakeTavily.StartAsync(TavilyKey);
        await using var gateway = await StartAsync(new()
        {
            ["Qlaud:Builtins:web_search:Backend"] = "tavily",
            ["Qlaud:Builtins:web_search:TavilyApiKey"] = TavilyKey,
            ["Qlaud:Builtins:web_search:TavilyBaseUrl"] = tavily.Url,
        });
        var tool = Tool(gateway);

        var result = await tool.InvokeAsync(Call("""{"query":"who is Leo Messi?","count":2}"""), CancellationToken.None);

        Assert.True(tool.IsAvailable);
        Assert.False(result.IsError, result.Text);
        Assert.Equal("""{"results":[{"title":"Tavily result 1 for who is Leo Messi?","url":"https://example.org/1","snippet":"Content 1 about who is Leo Messi?."},{"title":"Tavily result 2 for who is Leo Messi?","url":"https://example.org/2","snippet":"Content 2 about who is Leo Messi?."}]}""", result.Text);
        var request = Assert.Single(tavily.Requests);
        Assert.Equal(("POST", "/search"), (request.Method, request.PathAndQuery));
        Assert.Equal("Bearer " + TavilyKey, request.Headers["Authorization"]);
        Assert.Equal("application/json", request.Headers["Content-Type"]);
        Assert.Equal("""{"query":"who is Leo Messi?","max_results":2,"search_depth":"basic"}""", request.Body);
    }

    [Fact]
    public async Task Backend_IsBraveWhenItsKeyIsSet_ElseTavilyFromItsEnvironmentVariable()
    {
        await using var brave = await FakeBraveSearch.StartAsync(BraveKey);
        await using var tavily = await FakeTavily.StartAsync(TavilyKey);
        var urls = new Dictionary<string, string?> { ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url, ["Qlaud:Builtins:web_search:TavilyBaseUrl"] = tavily.Url };

        await using (var both = await StartAsync(new(urls) { ["BRAVE_API_KEY"] = BraveKey, ["TAVILY_API_KEY"] = TavilyKey }))
        {
            Assert.False((await Tool(both).InvokeAsync(Call("""{"query":"both"}"""), CancellationToken.None)).IsError);
        }

        await using (var tavilyOnly = await StartAsync(new(urls) { ["TAVILY_API_KEY"] = TavilyKey }))
        {
            Assert.True(Tool(tavilyOnly).IsAvailable);
            Assert.False((await Tool(tavilyOnly).InvokeAsync(Call("""{"query":"tavily"}"""), CancellationToken.None)).IsError);
        }

        await using (var tavilyChosenWithoutItsKey = await StartAsync(new(urls) { ["BRAVE_API_KEY"] = BraveKey, ["Qlaud:Builtins:web_search:Backend"] = "tavily" }))
        {
            Assert.False(Tool(tavilyChosenWithoutItsKey).IsAvailable);
        }

        Assert.Single(brave.Requests);
        Assert.Single(tavily.Requests);
        Assert.Contains("\"query\":\"tavily\"", tavily.Requests[0].Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tavily_Errors_AreErrorsTheModelCanRead()
    {
        await using var tavily = await FakeTavily.StartAsync(TavilyKey);
        await using var gateway = await StartAsync(new()
        {
            ["Qlaud:Builtins:web_search:TavilyApiKey"] = "tvly-wrong",
            ["Qlaud:Builtins:web_search:TavilyBaseUrl"] = tavily.Url,
        });
        await using var good = await StartAsync(new()
        {
            ["Qlaud:Builtins:web_search:TavilyApiKey"] = TavilyKey,
            ["Qlaud:Builtins:web_search:TavilyBaseUrl"] = tavily.Url,
        });

        var refused = await Tool(gateway).InvokeAsync(Call("""{"query":"x"}"""), CancellationToken.None);
        tavily.FailNext(432);
        var planLimit = await Tool(good).InvokeAsync(Call("""{"query":"x"}"""), CancellationToken.None);
        tavily.FailNext(429, retryAfter: "1");
        var retried = await Tool(good).InvokeAsync(Call("""{"query":"x"}"""), CancellationToken.None);

        Assert.Equal("web_search is unavailable: the operator's Tavily key was refused (HTTP 401: Unauthorized: missing or invalid API key.). Do not retry; answer without web search.", refused.Text);
        Assert.True(planLimit.IsError);
        Assert.StartsWith("web_search is unavailable: the operator's Tavily plan limit is reached (HTTP 432: This request exceeds your plan's set usage limit.", planLimit.Text, StringComparison.Ordinal);
        Assert.False(retried.IsError, retried.Text);
        Assert.Equal(4, tavily.Requests.Count); // 401 once, 432 once, 429 then the retry
    }

    [Fact]
    public async Task UnknownBackend_StopsTheGatewayAtStartUp_NamingTheKey()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync(new() { ["Qlaud:Builtins:web_search:Backend"] = "bing" }));

        Assert.Contains("Qlaud:Builtins:web_search:Backend must be 'brave' or 'tavily'", error.Message, StringComparison.Ordinal);
    }

    private static Task<GatewayHost> StartAsync(Dictionary<string, string?> settings) => GatewayHost.StartAsync(settings: settings);

    private static BuiltinTool Tool(GatewayHost gateway) => gateway.Services.GetServices<BuiltinTool>().Single(static t => t.Name == "web_search");

    private static BuiltinToolCall Call(string arguments)
    {
        using var document = JsonDocument.Parse(arguments);
        return new BuiltinToolCall(document.RootElement.Clone(), QlaudCaller.InProcess, "call_1");
    }

    private static List<JsonElement> Results(BuiltinToolResult result)
    {
        Assert.False(result.IsError, result.Text);
        using var document = JsonDocument.Parse(result.Text);
        return [.. document.RootElement.GetProperty("results").EnumerateArray().Select(static e => e.Clone())];
    }
}
