using System.Net;
using System.Text;
using System.Text.Json;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests;

/// <summary>What reaches the upstream and what reaches the client, byte for byte, over raw HTTP.</summary>
public sealed class WireFidelityTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
    {
        ["Qlaud:Providers:fake2:Dialect"] = "openai",
        ["Qlaud:Providers:fake2:ApiKey"] = "sk-fake-2",
        ["Qlaud:Models:2:Id"] = "fallback-model",
        ["Qlaud:Models:2:Routes:0:Provider"] = "fake",
        ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "first-choice",
        ["Qlaud:Models:2:Routes:0:InputPerMTok"] = "1",
        ["Qlaud:Models:2:Routes:0:OutputPerMTok"] = "1",
        ["Qlaud:Models:2:Routes:1:Provider"] = "fake2",
        ["Qlaud:Models:2:Routes:1:UpstreamModel"] = "second-choice",
        ["Qlaud:Models:2:Routes:1:InputPerMTok"] = "1",
        ["Qlaud:Models:2:Routes:1:OutputPerMTok"] = "1",
    }, configureFake2: true);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Post_UnknownAndProviderSpecificFields_ReachUpstreamByteForByte()
    {
        const string body = """{"model":"fake-gpt","messages":[{"role":"user","content":"hi \u00e9"}],"top_k":5,"provider":{"order":["x","y"]},"qlaud_test_unknown":{"a":[1,2.50,null]},"logit_bias":{"50256":-100}}""";
        using var response = await _gateway.Http().PostAsync("/v1/chat/completions", Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // Every byte but the model id and Qlaud's own routing field (provider) arrives unchanged.
        Assert.Equal(body.Replace("\"fake-gpt\"", "\"upstream-gpt\"", StringComparison.Ordinal).Replace(",\"provider\":{\"order\":[\"x\",\"y\"]}", "", StringComparison.Ordinal), _gateway.Fake.Requests[0].BodyText);
        Assert.Equal("fake/upstream-gpt", response.Headers.GetValues("x-qlaud-route").Single());
        Assert.Equal("1", response.Headers.GetValues("x-qlaud-attempts").Single());
    }

    [Fact]
    public async Task Post_StreamWithoutIncludeUsage_UpstreamAskedButClientSeesNoUsageChunk()
    {
        const string body = """{"model":"fake-gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}""";
        using var response = await _gateway.Http().PostAsync("/v1/chat/completions", Json(body));
        string text = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var upstream = _gateway.Fake.Requests[0].BodyJson!.Value;
        Assert.True(upstream.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        foreach (var e in events[..^1])
        {
            using var chunk = JsonDocument.Parse(e["data: ".Length..]);
            Assert.NotEqual(0, chunk.RootElement.GetProperty("choices").GetArrayLength());
        }
    }

    [Fact]
    public async Task Post_StreamWithIncludeUsage_ClientGetsExactlyOneUsageChunk()
    {
        const string body = """{"model":"fake-gpt","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}""";
        using var response = await _gateway.Http().PostAsync("/v1/chat/completions", Json(body));
        string text = await response.Content.ReadAsStringAsync();

        Assert.Equal(1, text.Split("\n\n").Count(static e => e.Contains("\"choices\":[]", StringComparison.Ordinal)));
        Assert.Equal(body.Replace("\"fake-gpt\"", "\"upstream-gpt\"", StringComparison.Ordinal), _gateway.Fake.Requests[0].BodyText);
    }

    [Fact]
    public async Task Post_Upstream400_ErrorBodyReachesClientIntact()
    {
        const string upstreamError = """{"error":{"message":"max_tokens is too large: 999999.","type":"invalid_request_error","param":"max_tokens","code":null}}""";
        _gateway.Fake.Enqueue(FakeReply.Error(400, upstreamError));
        using var response = await _gateway.Http().PostAsync("/v1/chat/completions", Json("""{"model":"fake-gpt","messages":[],"max_tokens":999999}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(upstreamError, await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/v1/chat/completions", """{"model":"fake-gpt","messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("/v1/chat/completions", """{"model":"fake-claude","messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("/v1/messages", """{"model":"fake-claude","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("/v1/messages", """{"model":"fake-gpt","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}""")]
    public async Task Post_WholeAnswer_SentWithItsLengthNotChunked(string path, string body)
    {
        // Passthrough (same dialect) and translated (the other one) answers alike: the client's answer ends with its last
        // byte, not with a chunk terminator written after the gateway settled the spend.
        using var http = _gateway.Http();
        http.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");
        using var response = await http.PostAsync(path, Json(body));
        byte[] bytes = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEqual(true, response.Headers.TransferEncodingChunked);
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        using var json = JsonDocument.Parse(bytes);
    }

    [Theory]
    [InlineData("fake-gpt", """{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}""")]
    [InlineData("fake-claude", """{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}""")]
    public async Task Post_UpstreamError_SentWithItsLengthNotChunked(string model, string upstreamError)
    {
        // Relayed as is (same dialect) or re-wrapped in the surface's error shape (the other one).
        _gateway.Fake.Enqueue(FakeReply.Error(400, upstreamError));
        using var response = await _gateway.Http().PostAsync("/v1/chat/completions", Json($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}"""));
        byte[] bytes = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.NotEqual(true, response.Headers.TransferEncodingChunked);
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        using var json = JsonDocument.Parse(bytes);
        Assert.Contains("bad", json.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[]", "must be a JSON object")]
    [InlineData("{\"messages\":[]}", "'model' is required")]
    [InlineData("{\"model\":42}", "'model' must be a string")]
    public async Task Post_BadBody_400InOpenAIErrorShape(string body, string message)
    {
        using var response = await _gateway.Http().PostAsync("/v1/chat/completions", Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = doc.RootElement.GetProperty("error");
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task Post_NoKey_401InOpenAIErrorShape()
    {
        using var response = await _gateway.Http(key: null).PostAsync("/v1/chat/completions", Json("""{"model":"fake-gpt","messages":[]}"""));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("Authorization: Bearer", doc.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_FirstRoute500_FallsBackToSecondRoute()
    {
        _gateway.Fake.Enqueue(FakeReply.Error(500), FakeReply.Text("from the second route"));
        using var response = await _gateway.Http().PostAsync("/v1/chat/completions", Json("""{"model":"fallback-model","messages":[{"role":"user","content":"hi"}]}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("from the second route", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(["first-choice", "second-choice"], _gateway.Fake.Requests.Select(static r => r.Model));
        Assert.Equal("Bearer sk-fake-2", _gateway.Fake.Requests[1].GetHeader("Authorization"));
        Assert.Equal("fake2/second-choice", response.Headers.GetValues("x-qlaud-route").Single());
        Assert.Equal("2", response.Headers.GetValues("x-qlaud-attempts").Single());
    }

    [Fact]
    public async Task Post_FirstRoute400_NoFallback()
    {
        _gateway.Fake.Enqueue(FakeReply.Error(400));
        using var response = await _gateway.Http().PostAsync("/v1/chat/completions", Json("""{"model":"fallback-model","messages":[]}"""));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Single(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task Post_UpstreamCutsStream_ClientStreamEndsWithErrorEvent()
    {
        _gateway.Fake.Enqueue(FakeReply.CutOff("a long answer that will not finish", afterChunks: 2));
        using var response = await _gateway.Http().PostAsync("/v1/chat/completions", Json("""{"model":"fake-gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}"""));
        string text = await response.Content.ReadAsStringAsync();

        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain("data: [DONE]", events);
        Assert.True(events[^1].StartsWith("data: {", StringComparison.Ordinal), text);
        using var last = JsonDocument.Parse(events[^1]["data: ".Length..]);
        Assert.Contains("ended the stream", last.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_ClientDisconnects_UpstreamRequestCancelled()
    {
        _gateway.Fake.Enqueue(FakeReply.Hang());
        using var cts = new CancellationTokenSource();
        var call = _gateway.Http().PostAsync("/v1/chat/completions", Json("""{"model":"fake-gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}"""), cts.Token);
        var upstream = await _gateway.Fake.WaitForRequestAsync(timeout: TimeSpan.FromSeconds(10));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        await upstream.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(upstream.Cancelled);
    }

    [Fact]
    public async Task GetModels_OpenAIShape_ListsAvailableModels()
    {
        using var doc = JsonDocument.Parse(await _gateway.Http().GetStringAsync("/v1/models"));
        Assert.Equal("list", doc.RootElement.GetProperty("object").GetString());
        var ids = doc.RootElement.GetProperty("data").EnumerateArray().Select(static m => m.GetProperty("id").GetString()).ToList();
        Assert.Contains("fake-gpt", ids);
        Assert.Contains("qlaud/echo", ids);
        Assert.DoesNotContain("gpt-4o-mini", ids);
        Assert.All(doc.RootElement.GetProperty("data").EnumerateArray(), static m => Assert.Equal("model", m.GetProperty("object").GetString()));
    }

    [Fact]
    public async Task GetCatalog_Public_PricesCapabilitiesAndRoutes()
    {
        using var doc = JsonDocument.Parse(await _gateway.Http(key: null).GetStringAsync("/v1/catalog"));
        var models = doc.RootElement.GetProperty("data").EnumerateArray().ToList();
        Assert.True(models.Count >= 40);
        var fake = models.Single(static m => m.GetProperty("id").GetString() == "fake-claude");
        var pricing = fake.GetProperty("routes")[0].GetProperty("pricing");
        Assert.Equal(3m, pricing.GetProperty("input_per_mtok").GetDecimal());
        Assert.Equal(0.3m, pricing.GetProperty("cache_read_per_mtok").GetDecimal());
        Assert.True(fake.GetProperty("available").GetBoolean());
        Assert.Contains(models, static m => m.GetProperty("routes").GetArrayLength() >= 3);
    }
}
