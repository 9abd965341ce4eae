using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Embeddings;

/// <summary>
/// The in-process <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> that <c>AddQlaud()</c> registers (<c>QlaudEmbeddingGenerator</c>
/// inside <c>MeteringEmbeddingGenerator</c>), against the fake provider over real HTTP: routing, fallback, metering and DI.
/// </summary>
/// <remarks><c>fake-embed</c>: $1 per million input tokens, routes <c>fake/upstream-embed</c> then <c>fake2/upstream-embed-2</c>;
/// <c>fake-embed-dear</c>: $5 per million input tokens, route <c>fake2/upstream-embed-dear</c>.</remarks>
public sealed class EmbeddingGeneratorTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(configureFake2: true, settings: new Dictionary<string, string?>
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
        ["Qlaud:Models:3:Id"] = "fake-embed-dear",
        ["Qlaud:Models:3:Capabilities:0"] = "embeddings",
        ["Qlaud:Models:3:Routes:0:Provider"] = "fake2",
        ["Qlaud:Models:3:Routes:0:UpstreamModel"] = "upstream-embed-dear",
        ["Qlaud:Models:3:Routes:0:InputPerMTok"] = "5",
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private IEmbeddingGenerator<string, Embedding<float>> Generator => _gateway.Services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();

    [Fact]
    public async Task GenerateAsync_InCallScopeOfAKey_ReturnsTheVectorsAndChargesThePromptTokensToTheKey()
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"bob","max_spend_usd":1}""");

        GeneratedEmbeddings<Embedding<float>> result;
        using (QlaudCallScope.ForApiKey(secret))
        {
            result = await Generator.GenerateAsync(["hello world", "again"], new EmbeddingGenerationOptions { ModelId = "fake-embed", Dimensions = 8 });
        }

        Assert.Equal(FakeEmbeddings.VectorFor("hello world", 8), result[0].Vector.ToArray());
        Assert.Equal(FakeEmbeddings.VectorFor("again", 8), result[1].Vector.ToArray());
        Assert.Equal(3, result.Usage!.InputTokenCount);
        Assert.Equal("fake/upstream-embed", result.AdditionalProperties![QlaudResponseProperties.Route]);
        Assert.Equal(1, result.AdditionalProperties[QlaudResponseProperties.Attempts]);
        Assert.Equal(3L, result.AdditionalProperties[QlaudResponseProperties.CostMicros]);
        var sent = JsonDocument.Parse(Assert.Single(_gateway.Fake.Requests).Body).RootElement;
        Assert.Equal(("upstream-embed", "float", 8), (sent.GetProperty("model").GetString(), sent.GetProperty("encoding_format").GetString(), sent.GetProperty("dimensions").GetInt32()));
        Assert.Equal(["hello world", "again"], sent.GetProperty("input").EnumerateArray().Select(static v => v.GetString()));

        using var admin = _gateway.Http();
        var (_, usage) = await admin.GetJsonAsync($"/v1/keys/{id}/usage");
        var entry = usage.GetProperty("data")[0];
        Assert.Equal(result.AdditionalProperties[QlaudResponseProperties.RequestId], entry.GetProperty("request_id").GetString());
        Assert.Equal(("fake-embed", "bob", 3L, 3L), (entry.GetProperty("model").GetString(), entry.GetProperty("end_user_id").GetString(),
            entry.GetProperty("input_tokens").GetInt64(), entry.GetProperty("cost_micros").GetInt64()));
    }

    [Fact]
    public async Task GenerateAsync_FirstRouteAnswers503_FallsBackToTheSecondRoute()
    {
        _gateway.Fake.Enqueue(FakeReply.Error(503));

        var result = await Generator.GenerateAsync(["hello world"], new EmbeddingGenerationOptions { ModelId = "fake-embed" });

        Assert.Equal(FakeEmbeddings.VectorFor("hello world"), result[0].Vector.ToArray());
        Assert.Equal("fake2/upstream-embed-2", result.AdditionalProperties![QlaudResponseProperties.Route]);
        Assert.Equal(2, result.AdditionalProperties[QlaudResponseProperties.Attempts]);
    }

    [Fact]
    public async Task GenerateAsync_KeyOverCap_ThrowsPaymentRequiredWithoutAnUpstreamRequest()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"max_spend_usd":0.000001}""");
        var options = new EmbeddingGenerationOptions
        {
            ModelId = "fake-embed",
            AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret },
        };

        var ex = await Assert.ThrowsAsync<QlaudException>(() => Generator.GenerateAsync(["a text longer than one micro-dollar of budget"], options));

        Assert.Equal(QlaudErrorKind.PaymentRequired, ex.Error.Kind);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task GenerateAsync_ModelsOptionOnly_ReservedCappedAndRecorded()
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"max_spend_usd":1}""");
        var options = new EmbeddingGenerationOptions
        {
            AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret, [QlaudChatOptions.Models] = new[] { "fake-embed" } },
        };

        var result = await Generator.GenerateAsync(["hello world", "again"], options);

        var entry = await _gateway.SingleUsageEntryAsync(id);
        Assert.Equal(result.AdditionalProperties![QlaudResponseProperties.RequestId], entry.GetProperty("request_id").GetString());
        Assert.Equal(("fake-embed", "fake/upstream-embed", 3L, 3L), (entry.GetProperty("model").GetString(), entry.GetProperty("route").GetString(),
            entry.GetProperty("input_tokens").GetInt64(), entry.GetProperty("cost_micros").GetInt64()));
    }

    [Fact]
    public async Task GenerateAsync_ModelsOptionOnlyOverCap_ThrowsPaymentRequiredWithoutAnUpstreamRequest()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"max_spend_usd":0}""");
        var options = new EmbeddingGenerationOptions
        {
            AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret, [QlaudChatOptions.Models] = new[] { "fake-embed" } },
        };

        var ex = await Assert.ThrowsAsync<QlaudException>(() => Generator.GenerateAsync(["hello world"], options));

        Assert.Equal(QlaudErrorKind.PaymentRequired, ex.Error.Kind);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task GenerateAsync_AnsweredByFallbackModel_ChargedAtTheFallbackRoute()
    {
        // fake-embed-dear ($5) fails, the fallback model fake-embed ($1) answers: 3 tokens × $1 per million = 3 micro-USD.
        var (id, secret) = await _gateway.MintKeyAsync();
        _gateway.Fake.Enqueue(FakeReply.Error(503));
        var options = new EmbeddingGenerationOptions
        {
            ModelId = "fake-embed-dear",
            AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret, [QlaudChatOptions.Models] = new[] { "fake-embed" } },
        };

        var result = await Generator.GenerateAsync(["hello world", "again"], options);

        Assert.Equal("fake/upstream-embed", result.AdditionalProperties![QlaudResponseProperties.Route]);
        var entry = await _gateway.SingleUsageEntryAsync(id);
        Assert.Equal(("fake-embed", "fake/upstream-embed", 3L, 3L), (entry.GetProperty("model").GetString(), entry.GetProperty("route").GetString(),
            entry.GetProperty("upstream_cost_micros").GetInt64(), entry.GetProperty("cost_micros").GetInt64()));
    }

    [Fact]
    public async Task GenerateAsync_CallerCancelsWhileTheProviderWorks_ChargesTheInputEstimate()
    {
        var (id, secret) = await _gateway.MintKeyAsync();
        _gateway.Fake.Enqueue(FakeReply.Hang());
        var options = new EmbeddingGenerationOptions { ModelId = "fake-embed", AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret } };
        using var cancel = new CancellationTokenSource();
        var call = Generator.GenerateAsync(["hello world", "again"], options, cancel.Token);
        await _gateway.Fake.WaitForRequestAsync(timeout: TimeSpan.FromSeconds(20));

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        var entry = await _gateway.SingleUsageEntryAsync(id);
        Assert.True(entry.GetProperty("estimated").GetBoolean());
        Assert.Equal("fake/upstream-embed", entry.GetProperty("route").GetString());
        long input = entry.GetProperty("input_tokens").GetInt64();
        Assert.True(input > 0);
        Assert.Equal((0L, input), (entry.GetProperty("output_tokens").GetInt64(), entry.GetProperty("cost_micros").GetInt64()));
        using var admin = _gateway.Http();
        Assert.Equal(0, (await admin.GetJsonAsync("/v1/wallet")).Body.GetProperty("reserved_micros").GetInt64());
    }

    [Fact]
    public async Task GenerateAsync_ChatModel_ThrowsInvalidRequestWithoutAnUpstreamRequest()
    {
        var ex = await Assert.ThrowsAsync<QlaudException>(() => Generator.GenerateAsync(["hi"], new EmbeddingGenerationOptions { ModelId = "fake-gpt" }));

        Assert.Equal((QlaudErrorKind.InvalidRequest, "model_not_supported"), (ex.Error.Kind, ex.Error.Code));
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task GenerateAsync_EndUser_SentAsOpenAIUserAndRecordedOnTheLedger()
    {
        var options = new EmbeddingGenerationOptions { ModelId = "fake-embed", AdditionalProperties = new() { [QlaudChatOptionKeys.EndUser] = "carol" } };

        await Generator.GenerateAsync(["hi"], options);

        Assert.Equal("carol", JsonDocument.Parse(Assert.Single(_gateway.Fake.Requests).Body).RootElement.GetProperty("user").GetString());
        using var admin = _gateway.Http();
        var (_, wallet) = await admin.GetJsonAsync("/v1/wallet");
        Assert.Equal("carol", wallet.GetProperty("recent_entries")[0].GetProperty("end_user_id").GetString());
    }

    [Fact]
    public void AddQlaud_AppRegisteredItsOwnGenerator_TheAppsGeneratorWins()
    {
        using var own = new OwnGenerator();
        var services = new ServiceCollection();
        services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(own);
        services.AddQlaud();

        using var provider = services.BuildServiceProvider();

        Assert.Same(own, provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>());
    }

    private sealed class OwnGenerator : IEmbeddingGenerator<string, Embedding<float>>
    {
        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
            => Task.FromResult(new GeneratedEmbeddings<Embedding<float>>());

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
