using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests;

/// <summary>
/// <c>POST /v1/embeddings</c> on Kestrel, driven by the official OpenAI SDK's <see cref="EmbeddingClient"/> and raw HTTP, with the
/// fake provider's <c>/v1/embeddings</c> upstream: passthrough, fallback, metering and authorization.
/// </summary>
/// <remarks>
/// <c>fake-embed</c> is an embedding model at $1 per million input tokens (one micro-USD per token) with two routes on the same
/// fake upstream: <c>fake/upstream-embed</c>, then <c>fake2/upstream-embed-2</c>.
/// </remarks>
public sealed class EmbeddingsTests : IAsyncLifetime
{
    private static readonly Dictionary<string, string?> EmbeddingModel = new()
    {
        ["Qlaud:Providers:fake2:Dialect"] = "openai",
        ["Qlaud:Models:2:Id"] = "fake-embed",
        ["Qlaud:Models:2:Capabilities:0"] = "embeddings",
        ["Qlaud:Models:2:Routes:0:Provider"] = "fake",
        ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "upstream-embed",
        ["Qlaud:Models:2:Routes:0:InputPerMTok"] = "1",
        ["Qlaud:Models:2:Routes:1:Provider"] = "fake2",
        ["Qlaud:Models:2:Routes:1:UpstreamModel"] = "upstream-embed-2",
        ["Qlaud:Models:2:Routes:1:InputPerMTok"] = "1",
    };

    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(settings: EmbeddingModel, configureFake2: true);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Embeddings_OpenAISdkDefaultBase64_RelaysTheUpstreamVectorsAndHeaders()
    {
        var client = Client("fake-embed");

        var result = await client.GenerateEmbeddingsAsync(["hello world", "again"]);

        OpenAIEmbeddingCollection embeddings = result.Value;
        Assert.Equal(FakeEmbeddings.VectorFor("hello world"), embeddings[0].ToFloats().ToArray());
        Assert.Equal(FakeEmbeddings.VectorFor("again"), embeddings[1].ToFloats().ToArray());
        Assert.Equal("upstream-embed", embeddings.Model); // the upstream's body, untouched
        Assert.Equal(3, embeddings.Usage.InputTokenCount);
        var headers = result.GetRawResponse().Headers;
        Assert.Equal("fake/upstream-embed", Header(headers, "x-qlaud-route"));
        Assert.Equal("1", Header(headers, "x-qlaud-attempts"));
        Assert.Matches("^req_[0-9a-f]{32}$", Header(headers, "x-qlaud-request-id"));
        var sent = Assert.Single(_gateway.Fake.Requests);
        Assert.Equal("/v1/embeddings", sent.Path);
        Assert.Equal("upstream-embed", sent.Model);
        Assert.Equal("base64", JsonDocument.Parse(sent.Body).RootElement.GetProperty("encoding_format").GetString());
    }

    [Fact]
    public async Task Embeddings_FloatWithDimensionsAndUser_ForwardsTheBodyWithOnlyModelRewrittenAndRelaysFloats()
    {
        const string body = """{"input": ["hello world"], "model": "fake-embed", "encoding_format": "float", "dimensions": 4, "user": "user-7", "x_extra": {"a": 1}}""";
        using var http = _gateway.Http();

        using var response = await http.PostAsync("/v1/embeddings", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var vector = answer.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(static v => v.GetSingle()).ToArray();
        Assert.Equal(FakeEmbeddings.VectorFor("hello world", 4), vector);
        var sent = Assert.Single(_gateway.Fake.Requests);
        Assert.Equal(body.Replace("\"fake-embed\"", "\"upstream-embed\"", StringComparison.Ordinal), Encoding.UTF8.GetString(sent.Body.Span));
    }

    [Theory]
    [InlineData("base64")]
    [InlineData("float")]
    public async Task Embeddings_EncodingFormat_ResponseBodyIsTheUpstreamsBytes(string format)
    {
        string body = $$"""{"model":"fake-embed","input":["hello world","again"],"encoding_format":"{{format}}"}""";
        using var http = _gateway.Http();

        using var response = await http.PostAsync("/v1/embeddings", new StringContent(body, Encoding.UTF8, "application/json"));
        byte[] relayed = await response.Content.ReadAsByteArrayAsync();

        // The same request straight to the fake upstream: its deterministic answer is what the client must get.
        using var direct = new HttpClient { BaseAddress = _gateway.Fake.BaseUri };
        using var upstream = await direct.PostAsync("/v1/embeddings", new ByteArrayContent(Assert.Single(_gateway.Fake.Requests).Body.ToArray()));
        Assert.Equal(await upstream.Content.ReadAsByteArrayAsync(), relayed);
        Assert.Equal(format == "base64" ? JsonValueKind.String : JsonValueKind.Array,
            JsonDocument.Parse(relayed).RootElement.GetProperty("data")[0].GetProperty("embedding").ValueKind);
    }

    [Fact]
    public async Task Embeddings_StringAndTokenArrayInputs_ArePassedThrough()
    {
        using var http = _gateway.Http();

        var (stringStatus, stringAnswer) = await http.PostJsonAsync("/v1/embeddings", """{"model":"fake-embed","input":"one two three"}""");
        var (tokensStatus, tokensAnswer) = await http.PostJsonAsync("/v1/embeddings", """{"model":"fake-embed","input":[[1,2],[3,4,5]]}""");

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (stringStatus, tokensStatus));
        Assert.Equal(1, stringAnswer.GetProperty("data").GetArrayLength());
        Assert.Equal(3, stringAnswer.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(2, tokensAnswer.GetProperty("data").GetArrayLength());
        Assert.Equal(5, tokensAnswer.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task Embeddings_FirstRouteAnswers503_FallsBackToTheSecondRoute()
    {
        _gateway.Fake.Enqueue(FakeReply.Error(503));

        var result = await Client("fake-embed").GenerateEmbeddingAsync("hello world");

        Assert.Equal(FakeEmbeddings.VectorFor("hello world"), result.Value.ToFloats().ToArray());
        Assert.Equal("fake2/upstream-embed-2", Header(result.GetRawResponse().Headers, "x-qlaud-route"));
        Assert.Equal("2", Header(result.GetRawResponse().Headers, "x-qlaud-attempts"));
        Assert.Equal(["upstream-embed", "upstream-embed-2"], _gateway.Fake.Requests.Select(static r => r.Model));
    }

    [Fact]
    public async Task Embeddings_KeyOverCap_Answers402WithoutAnUpstreamRequest()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":0.000001}""");

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => Client("fake-embed", secret).GenerateEmbeddingAsync("a text longer than one token of budget"));

        Assert.Equal(402, ex.Status);
        Assert.Contains("spend_limit_exceeded", ex.GetRawResponse()!.Content.ToString(), StringComparison.Ordinal);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task Embeddings_Settled_LedgerEntryChargesThePromptTokensUnderTheRequestId()
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":1}""");
        _gateway.Fake.Enqueue(FakeReply.Text("ignored") with { Usage = new FakeUsage { InputTokens = 1500 } });

        var result = await Client("fake-embed", secret).GenerateEmbeddingAsync("hello world");

        using var admin = _gateway.Http();
        var (_, usage) = await admin.GetJsonAsync($"/v1/keys/{id}/usage");
        var entry = usage.GetProperty("data")[0];
        Assert.Equal(Header(result.GetRawResponse().Headers, "x-qlaud-request-id"), entry.GetProperty("request_id").GetString());
        Assert.Equal(("fake-embed", "fake/upstream-embed", "alice"), (entry.GetProperty("model").GetString(), entry.GetProperty("route").GetString(), entry.GetProperty("end_user_id").GetString()));
        Assert.Equal((1500L, 0L), (entry.GetProperty("input_tokens").GetInt64(), entry.GetProperty("output_tokens").GetInt64()));
        Assert.Equal(1500L, entry.GetProperty("cost_micros").GetInt64()); // 1500 tokens × $1/MTok
        var (_, wallet) = await admin.GetJsonAsync("/v1/wallet");
        Assert.Equal(0, wallet.GetProperty("reserved_micros").GetInt64());
    }

    [Fact]
    public async Task Embeddings_KeyWithTokensPerMinuteLimit_CountsNoOutputAllowance()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"tpm_limit":200}""");

        var client = Client("fake-embed", secret);

        // With an output allowance each request would hold the whole minute's budget and the second one would get a 429.
        await client.GenerateEmbeddingAsync("hello world");
        var second = await client.GenerateEmbeddingAsync("again");

        Assert.Equal(FakeEmbeddings.VectorFor("again"), second.Value.ToFloats().ToArray());
    }

    [Theory]
    [InlineData("master", HttpStatusCode.OK)]
    [InlineData("end-user", HttpStatusCode.OK)]
    [InlineData("none", HttpStatusCode.Unauthorized)]
    [InlineData("unknown", HttpStatusCode.Unauthorized)]
    public async Task Embeddings_ByKey_OnlyQlaudKeysAreServed(string key, HttpStatusCode expected)
    {
        string? secret = key switch
        {
            "master" => GatewayHost.MasterKey,
            "end-user" => (await _gateway.MintKeyAsync()).Secret,
            "unknown" => "qlk_live_NotAKey000000000000000000000000000000",
            _ => null,
        };
        using var http = _gateway.Http(secret);

        var (status, body) = await http.PostJsonAsync("/v1/embeddings", """{"model":"fake-embed","input":"hi"}""");

        Assert.Equal(expected, status);
        if (expected == HttpStatusCode.Unauthorized)
        {
            Assert.Equal("invalid_request_error", body.GetProperty("error").GetProperty("type").GetString());
            Assert.Empty(_gateway.Fake.Requests);
        }
    }

    [Fact]
    public async Task Embeddings_ChatModel_Answers400InTheOpenAIShapeWithoutAnUpstreamRequest()
    {
        using var http = _gateway.Http();

        var (status, body) = await http.PostJsonAsync("/v1/embeddings", """{"model":"fake-gpt","input":"hi"}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("model_not_supported", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("not an embedding model", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task ChatCompletions_EmbeddingModel_Answers400WithoutAnUpstreamRequest()
    {
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => _gateway.OpenAIChat("fake-embed").CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(400, ex.Status);
        Assert.Contains("POST /v1/embeddings", ex.GetRawResponse()!.Content.ToString(), StringComparison.Ordinal);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Theory]
    [InlineData("""{"model":"fake-embed"}""", "'input' is required")]
    [InlineData("""{"model":"fake-embed","input":""}""", "empty string")]
    [InlineData("""{"model":"fake-embed","input":[]}""", "empty array")]
    [InlineData("""{"model":"fake-embed","input":["a",1]}""", "input[1]")]
    [InlineData("""{"model":"fake-embed","input":{"text":"a"}}""", "'input' must be")]
    [InlineData("""{"model":"fake-embed","input":"a","encoding_format":"int8"}""", "'encoding_format'")]
    [InlineData("""{"model":"fake-embed","input":"a","dimensions":0}""", "'dimensions'")]
    [InlineData("""{"input":"a"}""", "'model' is required")]
    public async Task Embeddings_InvalidBody_Answers400NamingTheFieldWithoutAnUpstreamRequest(string json, string expected)
    {
        using var http = _gateway.Http();

        var (status, body) = await http.PostJsonAsync("/v1/embeddings", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", body.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains(expected, body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task ModelsAndCatalog_EmbeddingModel_IsMarkedAsEmbedding()
    {
        using var http = _gateway.Http();

        var (_, models) = await http.GetJsonAsync("/v1/models");
        var (_, catalog) = await http.GetJsonAsync("/v1/catalog");

        var listed = models.GetProperty("data").EnumerateArray().ToDictionary(static m => m.GetProperty("id").GetString()!, static m => m.GetProperty("kind").GetString());
        Assert.Equal(("embedding", "chat"), (listed["fake-embed"], listed["fake-gpt"]));
        var entry = catalog.GetProperty("data").EnumerateArray().Single(static m => m.GetProperty("id").GetString() == "fake-embed");
        Assert.Equal("embedding", entry.GetProperty("kind").GetString());
        Assert.Equal(["embeddings"], entry.GetProperty("capabilities").EnumerateArray().Select(static c => c.GetString()));
        Assert.Equal(0, entry.GetProperty("max_output_tokens").GetInt32());
        var builtIn = catalog.GetProperty("data").EnumerateArray().Single(static m => m.GetProperty("id").GetString() == "text-embedding-3-small");
        Assert.Equal(0.02m, builtIn.GetProperty("routes")[0].GetProperty("pricing").GetProperty("input_per_mtok").GetDecimal());
    }

    private EmbeddingClient Client(string model, string key = GatewayHost.MasterKey) => new(model, new ApiKeyCredential(key), new OpenAIClientOptions
    {
        Endpoint = _gateway.OpenAIBaseUri,
        NetworkTimeout = TimeSpan.FromSeconds(30),
        RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
    });

    private static string? Header(System.ClientModel.Primitives.PipelineResponseHeaders headers, string name) => headers.TryGetValue(name, out string? value) ? value : null;
}
