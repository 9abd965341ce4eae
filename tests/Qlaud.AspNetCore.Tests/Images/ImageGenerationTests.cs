#pragma warning disable OPENAI001 // the SDK marks the GPT image qualities as evaluation-only
using System.ClientModel;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OpenAI;
using OpenAI.Images;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Images;

/// <summary>
/// <c>POST /v1/images/generations</c> and <c>GET /v1/images/{token}</c> on Kestrel, driven by the official OpenAI SDK's
/// <see cref="ImageClient"/> and raw HTTP, with the fake provider's <c>/v1/images/generations</c> upstream: the request the provider
/// receives, per-image metering into the ledger, the cap checked before any upstream call, fallbacks, upstream errors, URLs.
/// </summary>
/// <remarks>
/// <c>fake-image</c> is an image model priced like OpenAI's <c>gpt-image-1</c> at 1024×1024 (low $0.011, medium $0.042, high $0.167)
/// with two routes on the same fake upstream: <c>fake/gpt-image-1</c>, then <c>fake2/gpt-image-1</c>. The markup is 10 %.
/// </remarks>
public sealed class ImageGenerationTests : IAsyncLifetime
{
    private static readonly Dictionary<string, string?> ImageModel = new()
    {
        ["Qlaud:Pricing:MarkupPercent"] = "10",
        ["Qlaud:Providers:fake2:Dialect"] = "openai",
        ["Qlaud:Providers:fake2:ApiKey"] = "sk-fake-2",
        ["Qlaud:Models:2:Id"] = "fake-image",
        ["Qlaud:Models:2:Capabilities:0"] = "images",
        ["Qlaud:Models:2:Routes:0:Provider"] = "fake",
        ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "gpt-image-1",
        ["Qlaud:Models:2:Routes:0:ImagePrices:low:1024x1024"] = "0.011",
        ["Qlaud:Models:2:Routes:0:ImagePrices:medium:1024x1024"] = "0.042",
        ["Qlaud:Models:2:Routes:0:ImagePrices:high:1024x1024"] = "0.167",
        ["Qlaud:Models:2:Routes:1:Provider"] = "fake2",
        ["Qlaud:Models:2:Routes:1:UpstreamModel"] = "gpt-image-1",
        ["Qlaud:Models:2:Routes:1:ImagePrices:low:1024x1024"] = "0.011",
        ["Qlaud:Models:2:Routes:1:ImagePrices:medium:1024x1024"] = "0.042",
        ["Qlaud:Models:2:Routes:1:ImagePrices:high:1024x1024"] = "0.167",
    };

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
        => _gateway = await GatewayHost.StartAsync(settings: ImageModel, configureFake2: true, services: s => s.AddSingleton<TimeProvider>(_clock));

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Generate_OpenAISdk_ReturnsTheUpstreamPngAndSendsTheDocumentedBody()
    {
        var result = await Client().GenerateImageAsync("a red fox in the snow", new ImageGenerationOptions
        {
            Quality = GeneratedImageQuality.HighQuality, // "high" (GeneratedImageQuality.High is DALL·E 3's "hd")
            Size = GeneratedImageSize.W1024xH1024,
        });

        Assert.Equal(FakeImages.Png, result.Value.ImageBytes.ToArray());
        var headers = result.GetRawResponse().Headers;
        Assert.Equal("fake/gpt-image-1", Header(headers, "x-qlaud-route"));
        Assert.Matches("^req_[0-9a-f]{32}$", Header(headers, "x-qlaud-request-id"));
        var sent = Assert.Single(_gateway.Fake.Requests);
        Assert.Equal("/v1/images/generations", sent.Path);
        Assert.Equal("Bearer sk-fake-openai", sent.Headers["Authorization"]);
        using var body = JsonDocument.Parse(sent.Body);
        var root = body.RootElement;
        Assert.Equal("gpt-image-1", root.GetProperty("model").GetString());
        Assert.Equal("a red fox in the snow", root.GetProperty("prompt").GetString());
        Assert.Equal(1, root.GetProperty("n").GetInt32());
        Assert.Equal(("high", "1024x1024"), (root.GetProperty("quality").GetString(), root.GetProperty("size").GetString()));
        Assert.False(root.TryGetProperty("response_format", out _)); // GPT image models reject it
    }

    [Fact]
    public async Task Generate_TwoHighImages_LedgerEntryChargesTheImagePricePlusMarkupAndTheBalanceMoves()
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":1}""");
        using var http = _gateway.Http(secret);

        var (status, body) = await http.PostJsonAsync("/v1/images/generations", """{"model":"fake-image","prompt":"two foxes","n":2,"quality":"high","size":"1024x1024"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, body.GetProperty("data").GetArrayLength());
        Assert.Equal(FakeImages.PngBase64, body.GetProperty("data")[1].GetProperty("b64_json").GetString());
        Assert.Equal(8320, body.GetProperty("usage").GetProperty("output_tokens").GetInt32()); // 2 × 4160 image tokens
        var entry = await _gateway.SingleUsageEntryAsync(id);
        Assert.Equal(("fake-image", "fake/gpt-image-1", "alice"), (entry.GetProperty("model").GetString(), entry.GetProperty("route").GetString(), entry.GetProperty("end_user_id").GetString()));
        Assert.Equal(334_000, entry.GetProperty("upstream_cost_micros").GetInt64()); // 2 × $0.167
        Assert.Equal(367_400, entry.GetProperty("cost_micros").GetInt64()); // + 10 %
        Assert.Equal(8320, entry.GetProperty("output_tokens").GetInt64());
        using var admin = _gateway.Http();
        var (_, wallet) = await admin.GetJsonAsync("/v1/wallet");
        Assert.Equal(-367_400, wallet.GetProperty("balance_micros").GetInt64());
        Assert.Equal(0, wallet.GetProperty("reserved_micros").GetInt64());
    }

    [Fact]
    public async Task Generate_CappedKeyThatCannotAffordAnImage_Answers402WithoutAnUpstreamCall()
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":0.1}""");
        using var http = _gateway.Http(secret);

        var (high, error) = await http.PostJsonAsync("/v1/images/generations", """{"model":"fake-image","prompt":"a fox","quality":"high","size":"1024x1024"}""");
        var (auto, _) = await http.PostJsonAsync("/v1/images/generations", """{"model":"fake-image","prompt":"a fox"}"""); // reserves the dearest

        Assert.Equal((HttpStatusCode.PaymentRequired, HttpStatusCode.PaymentRequired), (high, auto));
        Assert.Equal("spend_limit_exceeded", error.GetProperty("error").GetProperty("code").GetString());
        Assert.Empty(_gateway.Fake.Requests);

        var (low, _) = await http.PostJsonAsync("/v1/images/generations", """{"model":"fake-image","prompt":"a fox","quality":"low","size":"1024x1024"}""");
        Assert.Equal(HttpStatusCode.OK, low);
        Assert.Equal(12_100, (await _gateway.SingleUsageEntryAsync(id)).GetProperty("cost_micros").GetInt64()); // $0.011 + 10 %
    }

    [Fact]
    public async Task Generate_AutoQuality_SettlesAtTheQualityAndSizeTheProviderReports()
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"bob","max_spend_usd":1}""");
        using var http = _gateway.Http(secret);

        var (status, body) = await http.PostJsonAsync("/v1/images/generations", """{"model":"fake-image","prompt":"a fox","quality":"auto","size":"auto"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(("medium", "1024x1024"), (body.GetProperty("quality").GetString(), body.GetProperty("size").GetString()));
        Assert.Equal(42_000, (await _gateway.SingleUsageEntryAsync(id)).GetProperty("upstream_cost_micros").GetInt64());
    }

    [Fact]
    public async Task Generate_FirstRouteFails_FallsBackAndChargesOnlyTheAnsweringRoute()
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"carol","max_spend_usd":1}""");
        _gateway.Fake.Enqueue(FakeReply.Error(503));
        using var http = _gateway.Http(secret);

        var (status, _) = await http.PostJsonAsync("/v1/images/generations", """{"model":"fake-image","prompt":"a fox","quality":"low","size":"1024x1024"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["Bearer sk-fake-openai", "Bearer sk-fake-2"], _gateway.Fake.Requests.Select(static r => r.Headers["Authorization"]));
        var entry = await _gateway.SingleUsageEntryAsync(id);
        Assert.Equal("fake2/gpt-image-1", entry.GetProperty("route").GetString());
        Assert.Equal(11_000, entry.GetProperty("upstream_cost_micros").GetInt64());
    }

    [Theory]
    [InlineData("""{"model":"fake-image","prompt":"a fox","size":"999x999"}""", 400, "Invalid value: '999x999'")] // the provider's own 400
    [InlineData("""{"model":"fake-image","prompt":""}""", 400, "'prompt' is required")]
    [InlineData("""{"model":"fake-image","prompt":"a fox","n":11}""", 400, "'n' must be between 1 and 10")]
    [InlineData("""{"model":"fake-image","prompt":"a fox","stream":true}""", 400, "not supported")]
    [InlineData("""{"model":"fake-gpt","prompt":"a fox"}""", 400, "not an image model")]
    [InlineData("""{"model":"no-such-model","prompt":"a fox"}""", 404, "does not exist")]
    [InlineData("""{"prompt":"a fox"}""", 400, "'model' is required")]
    public async Task Generate_BadRequests_AnswerInTheOpenAIShapeAndChargeNothing(string json, int expected, string message)
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"dave","max_spend_usd":1}""");
        using var http = _gateway.Http(secret);

        var (status, body) = await http.PostJsonAsync("/v1/images/generations", json);

        Assert.Equal(expected, (int)status);
        Assert.Contains(message, body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await UsageCountAsync(id));
        using var admin = _gateway.Http();
        var (_, wallet) = await admin.GetJsonAsync("/v1/wallet");
        Assert.Equal((0L, 0L), (wallet.GetProperty("balance_micros").GetInt64(), wallet.GetProperty("reserved_micros").GetInt64()));
    }

    [Fact]
    public async Task Generate_OtherFields_PassToTheProviderAndQlaudsOwnAreCutOut()
    {
        using var http = _gateway.Http();

        var (status, _) = await http.PostJsonAsync("/v1/images/generations",
            """{"models":["fake-image"],"prompt":"a fox","quality":"low","size":"1024x1024","moderation":"low","output_compression":80,"response_format":"b64_json","user":"u-9"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        using var body = JsonDocument.Parse(Assert.Single(_gateway.Fake.Requests).Body);
        var root = body.RootElement;
        Assert.Equal(("low", 80, "u-9"), (root.GetProperty("moderation").GetString(), root.GetProperty("output_compression").GetInt32(), root.GetProperty("user").GetString()));
        Assert.Equal("gpt-image-1", root.GetProperty("model").GetString());
        Assert.False(root.TryGetProperty("models", out _));
        Assert.False(root.TryGetProperty("response_format", out _));
    }

    [Theory]
    [InlineData(429, 429)]
    [InlineData(500, 500)]
    [InlineData(401, 502)] // the provider refused the gateway's own key
    public async Task Generate_EveryRouteFails_AnswersTheMappedStatusAndReleasesTheReservation(int upstream, int expected)
    {
        _gateway.Fake.Enqueue(FakeReply.Error(upstream), FakeReply.Error(upstream));
        using var http = _gateway.Http();

        var (status, body) = await http.PostJsonAsync("/v1/images/generations", """{"model":"fake-image","prompt":"a fox","quality":"low","size":"1024x1024"}""");

        Assert.Equal(expected, (int)status);
        Assert.True(body.GetProperty("error").GetProperty("message").GetString()!.Length > 0);
        Assert.Equal(2, _gateway.Fake.Requests.Count);
        var (_, wallet) = await http.GetJsonAsync("/v1/wallet");
        Assert.Equal((0L, 0L), (wallet.GetProperty("balance_micros").GetInt64(), wallet.GetProperty("reserved_micros").GetInt64()));
    }

    [Fact]
    public async Task Generate_ResponseFormatUrl_ServesThePngAnonymouslyUntilItExpires()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"erin","max_spend_usd":1}""");
        using var http = _gateway.Http(secret);

        var (status, body) = await http.PostJsonAsync("/v1/images/generations", """{"model":"fake-image","prompt":"a fox","quality":"low","size":"1024x1024","response_format":"url"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var item = body.GetProperty("data")[0];
        Assert.False(item.TryGetProperty("b64_json", out _));
        var url = new Uri(item.GetProperty("url").GetString()!);
        Assert.Matches("^/v1/images/[0-9a-f]{64}$", url.AbsolutePath);
        Assert.Equal(_clock.GetUtcNow().AddMinutes(60).ToUnixTimeSeconds(), item.GetProperty("expires_at").GetInt64());
        Assert.False(_gateway.Fake.Requests.Single().Body.Span.IndexOf("response_format"u8) >= 0);

        using var anonymous = _gateway.Http(key: null);
        using (var image = await anonymous.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, image.StatusCode);
            Assert.Equal("image/png", image.Content.Headers.ContentType!.MediaType);
            Assert.Equal(FakeImages.Png, await image.Content.ReadAsByteArrayAsync());
        }

        _clock.Advance(TimeSpan.FromMinutes(59));
        using (var stillThere = await anonymous.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, stillThere.StatusCode);
        }

        _clock.Advance(TimeSpan.FromMinutes(1));
        using (var expired = await anonymous.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.NotFound, expired.StatusCode);
            Assert.Contains("image_not_found", await expired.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("/v1/images/0000000000000000000000000000000000000000000000000000000000000000")] // well-formed, never issued
    [InlineData("/v1/images/..%2F..%2Fqlaud.db")]
    [InlineData("/v1/images/generations")]
    public async Task GetImage_UnknownOrMalformedToken_Answers404(string path)
    {
        using var anonymous = _gateway.Http(key: null);

        using var response = await anonymous.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task GetImage_NoListing_AnotherKeySeesNothingWithoutTheToken()
    {
        using var http = _gateway.Http();
        var (status, _) = await http.PostJsonAsync("/v1/images/generations", """{"model":"fake-image","prompt":"a fox","quality":"low","size":"1024x1024","response_format":"url"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var (_, other) = await _gateway.MintKeyAsync("""{"end_user_id":"mallory"}""");
        using var mallory = _gateway.Http(other);

        using var list = await mallory.GetAsync("/v1/images");
        using var files = await mallory.GetAsync("/v1/files");

        Assert.Equal(HttpStatusCode.NotFound, list.StatusCode);
        Assert.DoesNotContain("/v1/images/", await files.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task InProcess_QlaudCallScopeKey_MeteredAsThatKeyWithTheRequestIdOfItsLedgerEntry()
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"frank","max_spend_usd":1}""");
        var images = _gateway.Services.GetRequiredService<Qlaud.Images.IQlaudImages>();

        Qlaud.Images.QlaudImageResult result;
        using (QlaudCallScope.ForApiKey(secret))
        {
            result = await images.GenerateAsync(new Qlaud.Images.QlaudImageRequest("fake-image", "a fox") { Quality = "medium", Size = "1024x1024", OutputFormat = "webp" });
        }

        var image = Assert.Single(result.Images);
        Assert.Equal(FakeImages.Png, image.Data.ToArray());
        Assert.Equal("image/webp", image.MediaType); // the provider reports output_format webp
        Assert.Equal(("fake-image", "fake/gpt-image-1", 42_000L), (result.Model, result.Route, result.CostMicros));
        var entry = await _gateway.SingleUsageEntryAsync(id);
        Assert.Equal(result.RequestId, entry.GetProperty("request_id").GetString());
        Assert.Equal(46_200, entry.GetProperty("cost_micros").GetInt64());
    }

    [Fact]
    public async Task Catalog_ImageModel_ListedAsAnImageWithItsPerImagePrices()
    {
        using var http = _gateway.Http();

        var (_, catalog) = await http.GetJsonAsync("/v1/catalog");
        var (_, chat) = await http.PostJsonAsync("/v1/chat/completions", """{"model":"fake-image","messages":[{"role":"user","content":"hi"}]}""");

        var model = catalog.GetProperty("data").EnumerateArray().Single(static m => m.GetProperty("id").GetString() == "fake-image");
        Assert.Equal("image", model.GetProperty("kind").GetString());
        Assert.Equal(["images"], model.GetProperty("capabilities").EnumerateArray().Select(static c => c.GetString()));
        var prices = model.GetProperty("routes")[0].GetProperty("pricing").GetProperty("per_image_by_quality");
        Assert.Equal(0.167m, prices.GetProperty("high").GetProperty("1024x1024").GetDecimal());
        Assert.Contains("is an image model", chat.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private ImageClient Client(string key = GatewayHost.MasterKey) => new("fake-image", new ApiKeyCredential(key), new OpenAIClientOptions
    {
        Endpoint = _gateway.OpenAIBaseUri,
        NetworkTimeout = TimeSpan.FromSeconds(30),
        RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
    });

    private async Task<int> UsageCountAsync(string keyId)
    {
        using var admin = _gateway.Http();
        var (_, usage) = await admin.GetJsonAsync($"/v1/keys/{keyId}/usage");
        return usage.GetProperty("data").GetArrayLength();
    }

    private static string? Header(System.ClientModel.Primitives.PipelineResponseHeaders headers, string name) => headers.TryGetValue(name, out var value) ? value : null;
}
