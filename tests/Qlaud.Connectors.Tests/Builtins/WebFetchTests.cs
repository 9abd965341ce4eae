using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Builtins;
using Qlaud.Connectors.Builtins.WebFetch;
using Qlaud.Connectors.Tests.Builtins.Fakes;

namespace Qlaud.Connectors.Tests.Builtins;

/// <summary>The <c>web_fetch</c> builtin against a fake web site over real HTTP, resolved from a real gateway: Markdown from HTML,
/// text and JSON as they are, limits, and the SSRF guard (loopback refused at connect time, also behind redirects and names).</summary>
public sealed class WebFetchTests
{
    private const string ArticleMarkdown = """
        The quick brown fox jumps over the lazy dog. Foxes are agile animals, and their jumps have been studied by researchers for many years, with results that surprise people who watch them closely in the wild.

        Read the [jumping guide]({0}docs/jumping?x=1) for **more detail** and *field notes*; the guide explains the run-up, the take-off and the landing, step by step, with photographs and diagrams.

        ## What a fox needs

        - A run-up of `3 m`
        - Soft ground
          1. grass
          2. snow

        ```python
        def jump(fox):
            return fox.height * 2
        ```

        | Animal | Jump (m) |
        | --- | --- |
        | Fox | 2 |
        | Dog | 1 |

        > A fox never jumps twice over the same dog.

        ![A fox in mid-air]({0}img/fox.png) Photographs by the Animal Weekly staff, taken over three winters, in the hills and forests where the foxes live, with long lenses so that the animals were not disturbed.
        """;

    [Fact]
    public async Task Article_IsReadAsMarkdown_WithoutPageChrome()
    {
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowPrivateNetworks"] = "true" });

        var result = await Fetch(gateway, new Uri(site.BaseUri, "/article"));

        Assert.False(result.IsError, result.Text);
        var answer = Json(result);
        Assert.Equal(new Uri(site.BaseUri, "/article").AbsoluteUri, answer.GetProperty("url").GetString());
        Assert.Equal("How the fox jumps | Animal Weekly", answer.GetProperty("title").GetString());
        Assert.Equal("text/html", answer.GetProperty("content_type").GetString());
        Assert.False(answer.GetProperty("truncated").GetBoolean());
        Assert.Equal(string.Format(System.Globalization.CultureInfo.InvariantCulture, ArticleMarkdown, site.BaseUri.AbsoluteUri), answer.GetProperty("content").GetString());
        var request = Assert.Single(site.Requests);
        Assert.Equal(("GET", "Qlaud-WebFetch/1.0"), (request.Method, request.UserAgent));
        Assert.StartsWith("text/html", request.Accept, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PageTooLargeForReadability_IsReadWhole_WithoutNavigationAndFooter()
    {
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowPrivateNetworks"] = "true", ["Qlaud:Builtins:web_fetch:MaxOutputChars"] = "1000000" });

        var result = await Fetch(gateway, new Uri(site.BaseUri, "/big-page"));

        var answer = Json(result);
        string content = answer.GetProperty("content").GetString()!;
        Assert.Equal("Big list", answer.GetProperty("title").GetString());
        Assert.StartsWith("# Big list\n\n- item 0\n- item 1\n", content, StringComparison.Ordinal);
        Assert.EndsWith("- item 5999", content, StringComparison.Ordinal);
        Assert.DoesNotContain("SHOULD-NOT-APPEAR", content, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlainTextAndJson_PassThrough_DecodedByTheirCharset()
    {
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowPrivateNetworks"] = "true" });

        var plain = Json(await Fetch(gateway, new Uri(site.BaseUri, "/plain")));
        var json = Json(await Fetch(gateway, new Uri(site.BaseUri, "/data.json")));
        var problem = Json(await Fetch(gateway, new Uri(site.BaseUri, "/problem")));
        var latin1 = Json(await Fetch(gateway, new Uri(site.BaseUri, "/latin1")));

        Assert.Equal(("text/plain", "Plain text: ünïcödé, kept as it is.\nSecond line."), (plain.GetProperty("content_type").GetString(), plain.GetProperty("content").GetString()));
        Assert.False(plain.TryGetProperty("title", out _));
        Assert.Equal(("application/json", """{"name":"fox","legs":4,"tags":["quick","brown"]}"""), (json.GetProperty("content_type").GetString(), json.GetProperty("content").GetString()));
        Assert.Equal("application/problem+json", problem.GetProperty("content_type").GetString());
        Assert.Equal(("Café", "Crème brûlée à la carte."), (latin1.GetProperty("title").GetString(), latin1.GetProperty("content").GetString()));
    }

    [Fact]
    public async Task BinaryContent_IsRefusedWithAClearError()
    {
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowPrivateNetworks"] = "true" });

        var png = await Fetch(gateway, new Uri(site.BaseUri, "/image.png"));
        var untyped = await Fetch(gateway, new Uri(site.BaseUri, "/untyped"));

        Assert.Equal((true, $"{site.BaseUri}image.png is image/png; web_fetch reads HTML, plain text and JSON only."), (png.IsError, png.Text));
        Assert.Equal((true, $"{site.BaseUri}untyped sent binary content without a content type; web_fetch reads HTML, plain text and JSON only."), (untyped.IsError, untyped.Text));
    }

    [Fact]
    public async Task LargeBody_StopsDownloadingAtMaxBytes_AndIsMarkedTruncated()
    {
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowPrivateNetworks"] = "true", ["Qlaud:Builtins:web_fetch:MaxBytes"] = "65536" });

        var answer = Json(await Fetch(gateway, new Uri(site.BaseUri, "/large")));

        Assert.True(answer.GetProperty("truncated").GetBoolean());
        Assert.Equal(20_000, answer.GetProperty("content").GetString()!.Length); // MaxOutputChars
        for (int i = 0; i < 200 && !site.LargeEnded; i++)
        {
            await Task.Delay(50);
        }

        Assert.True(site.LargeEnded);
        Assert.False(site.LargeCompleted, $"the site sent all 64 MiB ({site.LargeBytesWritten} bytes)");
    }

    [Fact]
    public async Task MaxChars_CutsTheContent_WithinTheGatewaysLimit()
    {
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowPrivateNetworks"] = "true", ["Qlaud:Builtins:web_fetch:MaxOutputChars"] = "300" });

        var fewer = Json(await Fetch(gateway, new Uri(site.BaseUri, "/article"), maxChars: 120));
        var more = Json(await Fetch(gateway, new Uri(site.BaseUri, "/article"), maxChars: 100_000));

        Assert.Equal((120, true), (fewer.GetProperty("content").GetString()!.Length, fewer.GetProperty("truncated").GetBoolean()));
        Assert.Equal((300, true), (more.GetProperty("content").GetString()!.Length, more.GetProperty("truncated").GetBoolean()));
        Assert.StartsWith("The quick brown fox", fewer.GetProperty("content").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SlowSite_EndsAtTheTimeLimit()
    {
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowPrivateNetworks"] = "true", ["Qlaud:Builtins:web_fetch:TimeoutSeconds"] = "1" });
        var clock = Stopwatch.StartNew();

        var result = await Fetch(gateway, new Uri(site.BaseUri, "/slow"));

        Assert.Equal((true, $"{site.BaseUri}slow was not fetched and read within the 1 s limit."), (result.IsError, result.Text));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task PageThatIsSlowToParse_EndsAtTheTimeLimit()
    {
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowPrivateNetworks"] = "true", ["Qlaud:Builtins:web_fetch:TimeoutSeconds"] = "2" });
        var clock = Stopwatch.StartNew();

        var result = await Fetch(gateway, new Uri(site.BaseUri, "/deep")); // 300,000 nested <div>s: minutes of parsing

        Assert.Equal((true, $"{site.BaseUri}deep was not fetched and read within the 2 s limit."), (result.IsError, result.Text));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Redirects_AreFollowedUpToFive()
    {
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowPrivateNetworks"] = "true" });

        var five = await Fetch(gateway, new Uri(site.BaseUri, "/chain/4"));
        int afterFive = site.Requests.Count;
        var six = await Fetch(gateway, new Uri(site.BaseUri, "/chain/5"));

        Assert.False(five.IsError, five.Text);
        Assert.Equal(new Uri(site.BaseUri, "/article").AbsoluteUri, Json(five).GetProperty("url").GetString());
        Assert.Equal(6, afterFive); // five redirects and the article
        Assert.Equal((true, $"{site.BaseUri}chain/5 redirected more than 5 times; web_fetch stopped at {site.BaseUri}article."), (six.IsError, six.Text));
        Assert.Equal(12, site.Requests.Count); // six redirects, the article never asked for
    }

    [Fact]
    public async Task RedirectToAnotherScheme_IsAnError()
    {
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowPrivateNetworks"] = "true" });

        var result = await Fetch(gateway, new Uri(site.BaseUri, "/to?target=" + Uri.EscapeDataString("file:///etc/passwd")));

        Assert.Equal((true, $"{site.BaseUri}to?target=file%3A%2F%2F%2Fetc%2Fpasswd redirected to file: URL, which web_fetch does not read."), (result.IsError, result.Text));
    }

    [Fact]
    public async Task ErrorStatus_IsAnError()
    {
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowPrivateNetworks"] = "true" });

        var result = await Fetch(gateway, new Uri(site.BaseUri, "/missing"));

        Assert.Equal((true, $"{site.BaseUri}missing answered HTTP 404 (Not Found)."), (result.IsError, result.Text));
    }

    [Theory]
    [InlineData("http://127.0.0.1:{0}/secret")]
    [InlineData("http://localhost:{0}/secret")]
    [InlineData("http://[::ffff:127.0.0.1]:{0}/secret")]
    [InlineData("http://0.0.0.0:{0}/secret")]
    [InlineData("http://[::1]:{0}/secret")]
    [InlineData("http://2130706433:{0}/secret")]
    public async Task LoopbackAddressesAndNames_AreRefusedByDefault_AndNothingIsSent(string url)
    {
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await StartAsync([]);
        var target = new Uri(string.Format(System.Globalization.CultureInfo.InvariantCulture, url, site.Port));

        var result = await Fetch(gateway, target);

        Assert.True(result.IsError);
        Assert.StartsWith($"web_fetch refused {target}: ", result.Text, StringComparison.Ordinal);
        Assert.EndsWith("resolves to a private, loopback or link-local address. Only public web addresses can be read.", result.Text, StringComparison.Ordinal);
        Assert.Empty(site.Requests);
    }

    [Fact]
    public async Task NameThatResolvesToLoopback_IsRefusedWhenConnecting()
    {
        await using var site = await FakeWebSite.StartAsync();
        var resolver = new MapResolver(new() { ["news.example-public.test"] = [IPAddress.Parse("127.0.0.1")] });
        await using var gateway = await StartAsync([], resolver);

        var result = await Fetch(gateway, new Uri($"http://news.example-public.test:{site.Port}/secret"));

        Assert.Equal((true, $"web_fetch refused http://news.example-public.test:{site.Port}/secret: news.example-public.test resolves to a private, loopback or link-local address. Only public web addresses can be read."), (result.IsError, result.Text));
        Assert.Equal(["news.example-public.test"], resolver.Lookups); // resolved once, by the connection itself
        Assert.Empty(site.Requests);
    }

    [Fact]
    public async Task AllowedPrivateHost_ConnectsToTheAddressTheGatewayResolved()
    {
        await using var site = await FakeWebSite.StartAsync();
        var resolver = new MapResolver(new() { ["wiki.intranet.test"] = [IPAddress.Parse("127.0.0.1")] });
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowedPrivateHosts:0"] = "wiki.intranet.test" }, resolver);

        var result = await Fetch(gateway, new Uri($"http://wiki.intranet.test:{site.Port}/plain"));

        Assert.False(result.IsError, result.Text);
        Assert.Equal($"wiki.intranet.test:{site.Port}", Assert.Single(site.Requests).Host);
    }

    [Fact]
    public async Task RedirectToAPrivateTarget_IsRefused_AndTheTargetNeverAsked()
    {
        await using var site = await FakeWebSite.StartAsync();
        var resolver = new MapResolver(new() { ["cdn.example-public.test"] = [IPAddress.Parse("127.0.0.1")] });
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:AllowedPrivateHosts:0"] = $"127.0.0.1:{site.Port}" }, resolver);

        var byName = await Fetch(gateway, new Uri(site.BaseUri, "/to?target=" + Uri.EscapeDataString($"http://cdn.example-public.test:{site.Port}/secret")));
        var byLocalhost = await Fetch(gateway, new Uri(site.BaseUri, "/to?target=" + Uri.EscapeDataString($"http://localhost:{site.Port}/secret")));
        var byMetadataAddress = await Fetch(gateway, new Uri(site.BaseUri, "/to?target=" + Uri.EscapeDataString("http://169.254.169.254/latest/meta-data/")));

        Assert.Equal($"web_fetch refused http://cdn.example-public.test:{site.Port}/secret (redirected from {site.BaseUri}to?target=http%3A%2F%2Fcdn.example-public.test%3A{site.Port}%2Fsecret): cdn.example-public.test resolves to a private, loopback or link-local address. Only public web addresses can be read.", byName.Text);
        Assert.True(byLocalhost.IsError);
        Assert.StartsWith($"web_fetch refused http://localhost:{site.Port}/secret (redirected from ", byLocalhost.Text, StringComparison.Ordinal);
        Assert.StartsWith("web_fetch refused http://169.254.169.254/latest/meta-data/ (redirected from ", byMetadataAddress.Text, StringComparison.Ordinal);
        Assert.All(site.Requests, static r => Assert.StartsWith("/to?", r.PathAndQuery, StringComparison.Ordinal));
        Assert.Equal(3, site.Requests.Count);
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"url":"/relative/page"}""")]
    [InlineData("""{"url":"ftp://example.com/file"}""")]
    [InlineData("""{"url":"file:///etc/passwd"}""")]
    [InlineData("""{"url":42}""")]
    public async Task BadUrl_IsAnError(string arguments)
    {
        await using var gateway = await StartAsync([]);

        var result = await Tool(gateway).InvokeAsync(Call(arguments), CancellationToken.None);

        Assert.Equal((true, "url must be an absolute http or https URL, for example https://example.com/page."), (result.IsError, result.Text));
    }

    [Fact]
    public async Task Tool_NeedsNoKey_IsFreeByDefault_AndCanBeDisabledOrPriced()
    {
        await using (var plain = await StartAsync([]))
        {
            Assert.True(Tool(plain).IsAvailable);
            Assert.Equal(0, Tool(plain).PriceMicros);
        }

        await using (var priced = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:PriceUsd"] = "0.001" }))
        {
            Assert.Equal(1_000, Tool(priced).PriceMicros);
        }

        await using var disabled = await StartAsync(new() { ["Qlaud:Builtins:web_fetch:Enabled"] = "false" });
        Assert.False(Tool(disabled).IsAvailable);
    }

    [Theory]
    [InlineData("Qlaud:Builtins:web_fetch:MaxRedirects", "11", "Qlaud:Builtins:web_fetch:MaxRedirects must be between 0 and 10")]
    [InlineData("Qlaud:Builtins:web_fetch:MaxBytes", "10", "Qlaud:Builtins:web_fetch:MaxBytes must be between 1024 and 104857600")]
    [InlineData("Qlaud:Builtins:web_fetch:AllowedPrivateHosts:0", "http://x/y", "Qlaud:Builtins:web_fetch:AllowedPrivateHosts:0 must be a host name or address")]
    public async Task BadSettings_StopTheGatewayAtStartUp_NamingTheKey(string key, string value, string message)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync(new() { [key] = value }));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    private static Task<GatewayHost> StartAsync(Dictionary<string, string?> settings, IHostResolver? resolver = null)
        => GatewayHost.StartAsync(settings: settings, services: resolver is null ? null : s => s.AddSingleton(resolver));

    private static BuiltinTool Tool(GatewayHost gateway) => gateway.Services.GetServices<BuiltinTool>().Single(static t => t.Name == "web_fetch");

    private static Task<BuiltinToolResult> Fetch(GatewayHost gateway, Uri url, int? maxChars = null)
        => Tool(gateway).InvokeAsync(Call(maxChars is null ? JsonSerializer.Serialize(new { url = url.AbsoluteUri }) : JsonSerializer.Serialize(new { url = url.AbsoluteUri, max_chars = maxChars })), CancellationToken.None);

    private static BuiltinToolCall Call(string arguments)
    {
        using var document = JsonDocument.Parse(arguments);
        return new BuiltinToolCall(document.RootElement.Clone(), QlaudCaller.InProcess, "call_1");
    }

    private static JsonElement Json(BuiltinToolResult result)
    {
        using var document = JsonDocument.Parse(result.Text);
        return document.RootElement.Clone();
    }

    /// <summary>Names a test gives addresses (like a DNS server would), falling back to the system resolver; counts lookups.</summary>
    private sealed class MapResolver(Dictionary<string, IPAddress[]> names) : IHostResolver
    {
        public ConcurrentQueue<string> Lookups { get; } = new();

        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
        {
            Lookups.Enqueue(host);
            return names.TryGetValue(host, out var addresses) ? Task.FromResult(addresses) : Dns.GetHostAddressesAsync(host, cancellationToken);
        }
    }
}
