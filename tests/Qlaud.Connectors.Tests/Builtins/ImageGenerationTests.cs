using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Builtins;
using Qlaud.FakeProvider;
using Qlaud.Security;

namespace Qlaud.Connectors.Tests.Builtins;

/// <summary>
/// The <c>image_generation</c> builtin resolved from a real gateway whose image model <c>fake-image</c> (priced like <c>gpt-image-1</c> at
/// 1024×1024: low $0.011, high $0.167) routes to the in-repo fake provider's <c>/v1/images/generations</c> over real HTTP: the request the
/// provider receives, the URL the gateway serves and its expiry, base64 mode, metering per image and the errors the model reads.
/// </summary>
public sealed class ImageGenerationTests
{
    private const string PublicBase = "https://gateway.example.test/base/";

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task IsAvailable_OnlyForAnEnabledImageModelOfTheCatalog()
    {
        Assert.True(await AvailableAsync(new() { ["Qlaud:Builtins:image_generation:Model"] = "fake-image" }));
        Assert.False(await AvailableAsync(new() { ["Qlaud:Builtins:image_generation:Model"] = "fake-gpt" })); // a chat model
        Assert.False(await AvailableAsync(new() { ["Qlaud:Builtins:image_generation:Model"] = "no-such-model" }));
        Assert.False(await AvailableAsync(new() { ["Qlaud:Builtins:image_generation:Model"] = "fake-image", ["Qlaud:Builtins:image_generation:Enabled"] = "false" }));
    }

    [Fact]
    public async Task Invoke_EndToEnd_SendsTheDocumentedRequestAndReturnsAGatewayUrlServingThePng()
    {
        await using var gateway = await StartAsync(new() { ["Qlaud:Connectors:PublicBaseUrl"] = PublicBase });
        var tool = Tool(gateway);
        var caller = await CallerAsync(gateway, """{"end_user_id":"alice","max_spend_usd":1}""");

        var result = await tool.InvokeAsync(Call("""{"prompt":"a lighthouse at dusk","size":"1024x1024","quality":"high"}""", caller), default);

        Assert.False(result.IsError, result.Text);
        using var json = JsonDocument.Parse(result.Text);
        var url = new Uri(json.RootElement.GetProperty("url").GetString()!);
        Assert.StartsWith(PublicBase + "v1/images/", url.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("2026-12-07T13:00:00Z", json.RootElement.GetProperty("expires_at").GetString()); // UrlMinutes 60
        Assert.False(json.RootElement.TryGetProperty("revised_prompt", out _)); // gpt-image-1 does not rewrite prompts
        var sent = Assert.Single(gateway.Fake.Requests);
        Assert.Equal("/v1/images/generations", sent.Path);
        using (var body = JsonDocument.Parse(sent.Body))
        {
            var root = body.RootElement;
            Assert.Equal(("gpt-image-1", "a lighthouse at dusk", 1), (root.GetProperty("model").GetString(), root.GetProperty("prompt").GetString(), root.GetProperty("n").GetInt32()));
            Assert.Equal(("high", "1024x1024"), (root.GetProperty("quality").GetString(), root.GetProperty("size").GetString()));
        }

        using var anonymous = gateway.Http(key: null);
        using var image = await anonymous.GetAsync("/v1/images/" + url.Segments[^1]);
        Assert.Equal(HttpStatusCode.OK, image.StatusCode);
        Assert.Equal("image/png", image.Content.Headers.ContentType!.MediaType);
        Assert.Equal(FakeImages.Png, await image.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Invoke_Metered_ChargesTheImagePriceThroughRoutingAndTheToolPriceIsZero()
    {
        await using var gateway = await StartAsync(new() { ["Qlaud:Pricing:MarkupPercent"] = "10" });
        var tool = Tool(gateway);
        var (keyId, secret) = await gateway.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":1}""");
        var caller = await AuthenticateAsync(gateway, secret);

        var result = await tool.InvokeAsync(Call("""{"prompt":"a fox","quality":"high","size":"1024x1024"}""", caller), default);

        Assert.False(result.IsError, result.Text);
        Assert.Equal(0, tool.PriceMicros); // the tool loop's flat charge would bill the image twice
        var entry = await gateway.SingleUsageEntryAsync(keyId);
        Assert.Equal(("fake-image", "fake/gpt-image-1", "alice"), (entry.GetProperty("model").GetString(), entry.GetProperty("route").GetString(), entry.GetProperty("end_user_id").GetString()));
        Assert.Equal((167_000L, 183_700L), (entry.GetProperty("upstream_cost_micros").GetInt64(), entry.GetProperty("cost_micros").GetInt64()));
    }

    [Fact]
    public async Task Invoke_UrlExpires_AfterUrlMinutesOnTheGatewaysClock()
    {
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:image_generation:UrlMinutes"] = "5" });
        var tool = Tool(gateway);
        ConnectLinkBase.Current = gateway.BaseUri; // what the HTTP surface sets for a thread turn
        QlaudCaller caller = QlaudCaller.InProcess;

        var result = await tool.InvokeAsync(Call("""{"prompt":"a fox","quality":"low"}""", caller), default);

        ConnectLinkBase.Current = null;
        Assert.False(result.IsError, result.Text);
        using var json = JsonDocument.Parse(result.Text);
        var url = new Uri(json.RootElement.GetProperty("url").GetString()!);
        Assert.Equal(gateway.BaseUri.GetLeftPart(UriPartial.Authority), url.GetLeftPart(UriPartial.Authority));
        Assert.Equal("2026-12-07T12:05:00Z", json.RootElement.GetProperty("expires_at").GetString());
        using var anonymous = new HttpClient();
        _clock.Advance(TimeSpan.FromMinutes(4));
        using (var before = await anonymous.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        _clock.Advance(TimeSpan.FromMinutes(1));
        using (var after = await anonymous.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.NotFound, after.StatusCode);
        }
    }

    [Fact]
    public async Task Invoke_ReturnBase64_GivesTheImageItselfAndStoresNothing()
    {
        await using var gateway = await StartAsync(new()
        {
            ["Qlaud:Builtins:image_generation:ReturnBase64"] = "true",
            ["Qlaud:Connectors:PublicBaseUrl"] = PublicBase,
        });
        var tool = Tool(gateway);

        var result = await tool.InvokeAsync(Call("""{"prompt":"a fox"}""", QlaudCaller.InProcess), default);

        Assert.False(result.IsError, result.Text);
        using var json = JsonDocument.Parse(result.Text);
        Assert.Equal(FakeImages.PngBase64, json.RootElement.GetProperty("b64_json").GetString());
        Assert.Equal("image/png", json.RootElement.GetProperty("media_type").GetString());
        Assert.False(json.RootElement.TryGetProperty("url", out _));
        var store = gateway.Services.GetRequiredService<Qlaud.Images.ImageStore>();
        Assert.False(Directory.Exists(store.Root) && Directory.EnumerateFiles(store.Root).Any());
    }

    [Fact]
    public async Task Invoke_CappedKeyThatCannotAffordAnImage_ErrorResultAndNoProviderCall()
    {
        await using var gateway = await StartAsync([]);
        var tool = Tool(gateway);
        var caller = await CallerAsync(gateway, """{"end_user_id":"alice","max_spend_usd":0.1}""");

        var result = await tool.InvokeAsync(Call("""{"prompt":"a fox","quality":"high","size":"1024x1024"}""", caller), default);

        Assert.True(result.IsError);
        Assert.Contains("cannot afford an image", result.Text, StringComparison.Ordinal);
        Assert.Empty(gateway.Fake.Requests);
    }

    [Theory]
    [InlineData(429, "rate limited")]
    [InlineData(500, "The image provider failed (500)")]
    [InlineData(401, "The operator's image provider key was refused")]
    [InlineData(400, "The image request was refused")]
    public async Task Invoke_UpstreamError_ErrorResultTheModelCanActOn(int status, string expected)
    {
        await using var gateway = await StartAsync([]);
        var tool = Tool(gateway);
        gateway.Fake.Enqueue(FakeReply.Error(status));

        var result = await tool.InvokeAsync(Call("""{"prompt":"a fox","quality":"low"}""", QlaudCaller.InProcess), default);

        Assert.True(result.IsError);
        Assert.Contains(expected, result.Text, StringComparison.Ordinal);
        Assert.Single(gateway.Fake.Requests);
        var (_, wallet) = await gateway.Http().GetJsonAsync("/v1/wallet");
        Assert.Equal((0L, 0L), (wallet.GetProperty("balance_micros").GetInt64(), wallet.GetProperty("reserved_micros").GetInt64()));
    }

    [Theory]
    [InlineData("""{}""", "'prompt' is required")]
    [InlineData("""{"prompt":"a fox","size":"999x999"}""", "Invalid value: '999x999'")] // the provider's 400, relayed
    [InlineData("""{"prompt":"a fox","quality":"ultra"}""", "'quality' must be one of")]
    public async Task Invoke_BadArguments_ErrorResult(string arguments, string expected)
    {
        await using var gateway = await StartAsync([]);
        var tool = Tool(gateway);

        var result = await tool.InvokeAsync(Call(arguments, QlaudCaller.InProcess), default);

        Assert.True(result.IsError);
        Assert.Contains(expected, result.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PriceMicros_PriceUsdSet_IsAFlatFeeOnTop()
    {
        await using var gateway = await StartAsync(new() { ["Qlaud:Builtins:image_generation:PriceUsd"] = "0.02" });

        Assert.Equal(20_000, Tool(gateway).PriceMicros);
    }

    private async Task<bool> AvailableAsync(Dictionary<string, string?> settings)
    {
        await using var gateway = await StartAsync(settings);
        return Tool(gateway).IsAvailable;
    }

    private Task<GatewayHost> StartAsync(Dictionary<string, string?> settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["Qlaud:Builtins:image_generation:Model"] = "fake-image",
            ["Qlaud:Models:2:Id"] = "fake-image",
            ["Qlaud:Models:2:Capabilities:0"] = "images",
            ["Qlaud:Models:2:Routes:0:Provider"] = "fake",
            ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "gpt-image-1",
            ["Qlaud:Models:2:Routes:0:ImagePrices:low:1024x1024"] = "0.011",
            ["Qlaud:Models:2:Routes:0:ImagePrices:medium:1024x1024"] = "0.042",
            ["Qlaud:Models:2:Routes:0:ImagePrices:high:1024x1024"] = "0.167",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return GatewayHost.StartAsync(settings: all, services: s => s.AddSingleton<TimeProvider>(_clock));
    }

    private static BuiltinTool Tool(GatewayHost gateway) => gateway.Services.GetServices<BuiltinTool>().Single(static t => t.Name == "image_generation");

    private static BuiltinToolCall Call(string arguments, QlaudCaller caller)
    {
        using var document = JsonDocument.Parse(arguments);
        return new BuiltinToolCall(document.RootElement.Clone(), caller, "call_1");
    }

    private static async Task<QlaudCaller> CallerAsync(GatewayHost gateway, string key)
        => await AuthenticateAsync(gateway, (await gateway.MintKeyAsync(key)).Secret);

    private static async Task<QlaudCaller> AuthenticateAsync(GatewayHost gateway, string secret)
    {
        var authentication = await gateway.Services.GetRequiredService<KeyAuthenticator>().AuthenticateAsync(secret, default);
        return authentication.Caller!;
    }
}
