using System.ClientModel;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Metering;

/// <summary>
/// End-to-end metering through the request path: <c>ChatForwarder</c> (HTTP surface) and <c>MeteringChatClient</c> (in-process)
/// reserve a request's worst case before the upstream call and settle the real cost after it.
/// </summary>
public sealed class MeteringEndToEndTests : IAsyncLifetime
{
    private static readonly FakeUsage Usage12In5Out = new() { InputTokens = 12, OutputTokens = 5 };

    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Pricing:MarkupPercent"] = "10" });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task ChatCompletions_KeyOverCap_Answers402WithoutAnUpstreamRequest()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":0.000001}""");

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => _gateway.OpenAIChat("fake-gpt", secret).CompleteChatAsync(
            [new UserChatMessage("hello")], new ChatCompletionOptions { MaxOutputTokenCount = 100 }));

        Assert.Equal(402, ex.Status);
        Assert.Contains("spend_limit_exceeded", ex.GetRawResponse()!.Content.ToString(), StringComparison.Ordinal);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task Messages_KeyOverCap_Answers402InTheAnthropicShapeWithoutAnUpstreamRequest()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"max_spend_usd":0}""");
        using var http = _gateway.Http(key: null);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent("""{"model":"fake-claude","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-api-key", secret);
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
        Assert.Contains("\"type\":\"error\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.StartsWith("req_", Assert.Single(response.Headers.GetValues("x-qlaud-request-id")), StringComparison.Ordinal);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task ChatCompletions_FourMegabyteImageWithinCap_IsAdmittedAndReservesItsImageCost()
    {
        // A 1024×1024 PNG padded to 4 MB: about 1,400 tokens as an image. Counted as base64 text (5.6 MB at 3 bytes per token)
        // it reserved 1.9 M tokens × $1/MTok = $1.9, and a $0.01 cap answered 402.
        var png = new byte[4 * 1024 * 1024];
        ReadOnlySpan<byte> header = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0x04, 0x00, 0, 0, 0x04, 0x00];
        header.CopyTo(png);
        var (id, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":0.01}""");
        _gateway.Fake.Enqueue(FakeReply.Text("A black square.") with { Usage = new FakeUsage { InputTokens = 1_410, OutputTokens = 4 } });
        var chat = _gateway.OpenAIChat("fake-gpt", secret);
        List<OpenAI.Chat.ChatMessage> messages = [new UserChatMessage(ChatMessageContentPart.CreateTextPart("What is in this image?"), ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(png), "image/png"))];

        ChatCompletion completion = await chat.CompleteChatAsync(messages, new ChatCompletionOptions { MaxOutputTokenCount = 100 });

        Assert.Equal("A black square.", completion.Content[0].Text);
        Assert.Single(_gateway.Fake.Requests);
        using var admin = _gateway.Http();
        var (_, key) = await admin.GetJsonAsync($"/v1/keys/{id}");
        var (_, wallet) = await admin.GetJsonAsync("/v1/wallet");
        // 1410 × $1/MTok + 4 × $2/MTok = 1418 micro-USD, +10 % = 1560; nothing left reserved.
        Assert.Equal(0.00156m, key.GetProperty("spend_usd").GetDecimal());
        Assert.Equal(0, wallet.GetProperty("reserved_micros").GetInt64());

        // The reservation itself: the image at 1399 tokens (Anthropic's formula, the larger), the JSON around it, 35 % on the
        // text for a route whose model is not an OpenAI model, and 100 output tokens; well under the cap.
        var guard = _gateway.Services.GetRequiredService<Qlaud.Metering.ISpendGuard>();
        var router = _gateway.Services.GetRequiredService<Qlaud.Routing.Router>();
        string body = $$$"""{"model":"fake-gpt","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"What is in this image?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{Convert.ToBase64String(png)}}}"}}]}]}""";
        byte[] utf8 = Encoding.UTF8.GetBytes(body);
        Assert.Null(Qlaud.Forwarding.WireRequestScanner.Scan(utf8, out var info));
        var candidates = router.Select("fake-gpt", null, default).Candidates;
        long input = Qlaud.Metering.SpendEstimator.EstimateInputTokens(utf8, info, candidates);
        Assert.InRange(input, 1_399 + 20, 1_399 + 200);
        var estimate = guard.Estimate(candidates, router.Catalog, input, 100);
        Assert.InRange(estimate.WorstCaseMicros, 1_560, 10_000);
    }

    [Fact]
    public async Task ChatCompletions_WithinCap_WalletAndUsageDecreaseByExactlyTheChargedCost()
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":1}""");
        _gateway.Fake.Enqueue(FakeReply.Text("hi") with { Usage = Usage12In5Out });

        await _gateway.OpenAIChat("fake-gpt", secret).CompleteChatAsync([new UserChatMessage("hello")], new ChatCompletionOptions { MaxOutputTokenCount = 50 });

        // 12 × $1/MTok + 5 × $2/MTok = 22 micro-USD upstream; +10 % markup rounded up = 25
        using var admin = _gateway.Http();
        var (_, wallet) = await admin.GetJsonAsync("/v1/wallet");
        var (_, usage) = await admin.GetJsonAsync("/v1/usage");
        var (_, key) = await admin.GetJsonAsync($"/v1/keys/{id}");
        Assert.Equal(-25, wallet.GetProperty("balance_micros").GetInt64());
        Assert.Equal(0, wallet.GetProperty("reserved_micros").GetInt64());
        var entry = wallet.GetProperty("recent_entries")[0];
        Assert.Equal((22L, 25L, "fake/upstream-gpt", "alice"), (entry.GetProperty("upstream_cost_micros").GetInt64(), entry.GetProperty("cost_micros").GetInt64(),
            entry.GetProperty("route").GetString(), entry.GetProperty("end_user_id").GetString()));
        Assert.Equal(25, usage.GetProperty("totals").GetProperty("cost_micros").GetInt64());
        Assert.Equal(0.000025m, key.GetProperty("spend_usd").GetDecimal());
    }

    [Fact]
    public async Task ChatCompletions_Settled_LedgerEntryCarriesTheRequestIdOfTheResponseHeader()
    {
        var (id, secret) = await _gateway.MintKeyAsync();
        _gateway.Fake.Enqueue(FakeReply.Text("hi") with { Usage = Usage12In5Out });

        var result = await _gateway.OpenAIChat("fake-gpt", secret).CompleteChatAsync([new UserChatMessage("hello")]);

        Assert.True(result.GetRawResponse().Headers.TryGetValue("x-qlaud-request-id", out string? requestId));
        Assert.Matches("^req_[0-9a-f]{32}$", requestId);
        using var admin = _gateway.Http();
        var (_, usage) = await admin.GetJsonAsync($"/v1/keys/{id}/usage");
        Assert.Equal(requestId, usage.GetProperty("data")[0].GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task ChatCompletions_StreamWithUsage_SettlesTheStreamsUsage()
    {
        var (_, secret) = await _gateway.MintKeyAsync();
        _gateway.Fake.Enqueue(FakeReply.Text("one two three") with { ChunkSize = 4, Usage = Usage12In5Out });

        await foreach (var _ in _gateway.OpenAIChat("fake-gpt", secret).CompleteChatStreamingAsync([new UserChatMessage("count")]))
        {
        }

        using var admin = _gateway.Http();
        var (_, usage) = await admin.GetJsonAsync("/v1/usage");
        Assert.Equal(1, usage.GetProperty("totals").GetProperty("requests").GetInt64());
        Assert.Equal(25, usage.GetProperty("totals").GetProperty("cost_micros").GetInt64());
    }

    [Fact]
    public async Task ChatCompletions_OverRequestsPerMinute_Answers429WithRetryAfterWithoutAnUpstreamRequest()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"rpm_limit":1}""");
        var chat = _gateway.OpenAIChat("fake-gpt", secret);
        await chat.CompleteChatAsync([new UserChatMessage("one")]);

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("two")]));

        Assert.Equal(429, ex.Status);
        Assert.True(ex.GetRawResponse()!.Headers.TryGetValue("retry-after", out string? retryAfter) && int.Parse(retryAfter!, System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Single(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task EnforcedWallet_Empty_Answers402ThenACreditLetsTheKeyCall()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Metering:EnforceWallet"] = "true" });
        var (_, secret) = await gateway.MintKeyAsync();
        var chat = gateway.OpenAIChat("fake-gpt", secret);

        var refused = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 10 }));
        using var admin = gateway.Http();
        await admin.PostJsonAsync("/v1/wallet/credit", """{"amount_usd":1}""");
        await chat.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 10 });

        Assert.Equal(402, refused.Status);
        Assert.Contains("insufficient_balance", refused.GetRawResponse()!.Content.ToString(), StringComparison.Ordinal);
        Assert.Single(gateway.Fake.Requests);
    }

    [Fact]
    public async Task ConcurrentStreamingAndPlainRequestsOnOneCappedKey_SpendWithinCapAndUpstreamSawExactlyTheAdmitted()
    {
        // Each request: ≤ 400 input bytes and max_tokens 100 → worst case well under 1000 micro-USD; real cost 22 → 25 charged.
        var (id, secret) = await _gateway.MintKeyAsync("""{"max_spend_usd":0.002}""");
        _gateway.Fake.Responder = static _ => FakeReply.Text("ok") with { Usage = Usage12In5Out, ChunkSize = 1 };
        var chat = _gateway.OpenAIChat("fake-gpt", secret);
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 100 };
        int admitted = 0, refused = 0;

        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            try
            {
                if (i % 2 == 0)
                {
                    await chat.CompleteChatAsync([new UserChatMessage("hi")], options, ct);
                }
                else
                {
                    await foreach (var _ in chat.CompleteChatStreamingAsync([new UserChatMessage("hi")], options, ct))
                    {
                    }
                }

                Interlocked.Increment(ref admitted);
            }
            catch (ClientResultException ex) when (ex.Status == 402)
            {
                Interlocked.Increment(ref refused);
            }
        });

        using var admin = _gateway.Http();
        var (_, key) = await admin.GetJsonAsync($"/v1/keys/{id}");
        Assert.Equal(200, admitted + refused);
        Assert.True(refused > 0);
        Assert.Equal(admitted, _gateway.Fake.Requests.Count);
        Assert.True(key.GetProperty("spend_usd").GetDecimal() <= 0.002m);
        Assert.Equal(admitted * 0.000025m, key.GetProperty("spend_usd").GetDecimal());
    }

    [Fact]
    public async Task InProcessChatClient_ApiKeyOverCap_ThrowsPaymentRequiredBeforeAnyUpstreamCall()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"max_spend_usd":0}""");
        var client = _gateway.Services.GetRequiredService<IChatClient>();
        var options = new ChatOptions { ModelId = "fake-gpt", MaxOutputTokens = 10, AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret } };

        var ex = await Assert.ThrowsAsync<QlaudException>(() => client.GetResponseAsync("hello", options));

        Assert.Equal(QlaudErrorKind.PaymentRequired, ex.Error.Kind);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task InProcessChatClient_ModelsOptionOnly_ReservedCappedAndRecorded()
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"max_spend_usd":1}""");
        _gateway.Fake.Enqueue(FakeReply.Text("hi") with { Usage = Usage12In5Out });
        var client = _gateway.Services.GetRequiredService<IChatClient>();
        var options = new ChatOptions { MaxOutputTokens = 10, AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret, [QlaudChatOptions.Models] = new[] { "fake-gpt" } } };

        await client.GetResponseAsync("hello", options);

        var entry = await SingleEntryAsync(id);
        Assert.Equal((12L, 5L, 25L, "fake/upstream-gpt"), (entry.GetProperty("input_tokens").GetInt64(), entry.GetProperty("output_tokens").GetInt64(),
            entry.GetProperty("cost_micros").GetInt64(), entry.GetProperty("route").GetString()));
    }

    [Fact]
    public async Task InProcessChatClient_ModelsOptionOnlyOverCap_ThrowsPaymentRequiredBeforeAnyUpstreamCall()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"max_spend_usd":0}""");
        var client = _gateway.Services.GetRequiredService<IChatClient>();
        var options = new ChatOptions { MaxOutputTokens = 10, AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret, [QlaudChatOptions.Models] = new[] { "fake-gpt" } } };

        var ex = await Assert.ThrowsAsync<QlaudException>(() => client.GetResponseAsync("hello", options));

        Assert.Equal(QlaudErrorKind.PaymentRequired, ex.Error.Kind);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task InProcessChatClient_AnsweredByFallbackModel_ChargedAtTheFallbackRoute(bool stream)
    {
        // fake-claude ($3/$15) fails, the fallback model fake-gpt ($1/$2) answers: 12 × 1 + 5 × 2 = 22 upstream, 25 with markup.
        var (id, secret) = await _gateway.MintKeyAsync();
        _gateway.Fake.Enqueue(FakeReply.Error(500));
        _gateway.Fake.Enqueue(FakeReply.Text("hi") with { Usage = Usage12In5Out });
        var client = _gateway.Services.GetRequiredService<IChatClient>();
        var options = new ChatOptions
        {
            ModelId = "fake-claude",
            MaxOutputTokens = 10,
            AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret, [QlaudChatOptions.Models] = new[] { "fake-gpt" } },
        };

        if (stream)
        {
            await foreach (var _ in client.GetStreamingResponseAsync("hello", options))
            {
            }
        }
        else
        {
            await client.GetResponseAsync("hello", options);
        }

        var entry = await SingleEntryAsync(id);
        Assert.Equal(("fake/upstream-gpt", 22L, 25L), (entry.GetProperty("route").GetString(), entry.GetProperty("upstream_cost_micros").GetInt64(), entry.GetProperty("cost_micros").GetInt64()));
    }

    [Theory]
    [InlineData("fake-gpt")] // passthrough
    [InlineData("fake-claude")] // translated
    public async Task ChatCompletions_ClientGoneWhileTheWholeAnswerIsWritten_ChargesTheUpstreamsUsage(string model)
    {
        // The upstream's whole answer (and its usage) was read; the client leaves as the gateway writes it to them.
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Pricing:MarkupPercent"] = "10" },
            middleware: static (context, next) =>
            {
                context.Features.Set<IHttpResponseBodyFeature>(new LeavingBodyFeature(context.Features.Get<IHttpResponseBodyFeature>()!, context));
                return next(context);
            });
        var (id, secret) = await gateway.MintKeyAsync();
        gateway.Fake.Enqueue(FakeReply.Text("hi") with { Usage = Usage12In5Out });
        using var http = gateway.Http(secret);

        await Assert.ThrowsAnyAsync<Exception>(() => http.PostAsync("/v1/chat/completions",
            new StringContent($$"""{"model":"{{model}}","max_tokens":50,"messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json")));

        var entry = await gateway.SingleUsageEntryAsync(id);
        Assert.Equal((12L, 5L, false), (entry.GetProperty("input_tokens").GetInt64(), entry.GetProperty("output_tokens").GetInt64(), entry.GetProperty("estimated").GetBoolean()));
        Assert.Equal(model == "fake-gpt" ? 25 : 123, entry.GetProperty("cost_micros").GetInt64()); // 22 × 1.1, 111 × 1.1, rounded up
        await AssertNothingReservedAsync(gateway);
    }

    [Fact]
    public async Task ChatCompletions_ClientGoneDuringGeneration_ChargesTheInputEstimate()
    {
        var (id, secret) = await _gateway.MintKeyAsync();
        _gateway.Fake.Enqueue(FakeReply.Hang());
        using var http = _gateway.Http(secret);
        using var cancel = new CancellationTokenSource();
        var call = http.PostAsync("/v1/chat/completions", new StringContent("""{"model":"fake-gpt","max_tokens":50,"messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json"), cancel.Token);
        await WaitForAsync(() => _gateway.Fake.Requests.Count == 1);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        var entry = await SingleEntryAsync(id);
        Assert.True(entry.GetProperty("estimated").GetBoolean());
        Assert.True(entry.GetProperty("input_tokens").GetInt64() > 0);
        Assert.Equal(0, entry.GetProperty("output_tokens").GetInt64());
        Assert.True(entry.GetProperty("cost_micros").GetInt64() > 0);
        await AssertNothingReservedAsync();
    }

    [Fact]
    public async Task InProcessChatClient_CallerCancelsDuringGeneration_ChargesTheInputEstimate()
    {
        var (id, secret) = await _gateway.MintKeyAsync();
        _gateway.Fake.Enqueue(FakeReply.Hang());
        var client = _gateway.Services.GetRequiredService<IChatClient>();
        var options = new ChatOptions { ModelId = "fake-gpt", MaxOutputTokens = 50, AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret } };
        using var cancel = new CancellationTokenSource();
        var call = client.GetResponseAsync("hello", options, cancel.Token);
        await WaitForAsync(() => _gateway.Fake.Requests.Count == 1);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        var entry = await SingleEntryAsync(id);
        Assert.True(entry.GetProperty("estimated").GetBoolean());
        Assert.True(entry.GetProperty("input_tokens").GetInt64() > 0);
        Assert.Equal(0, entry.GetProperty("output_tokens").GetInt64());
        await AssertNothingReservedAsync();
    }

    [Fact]
    public async Task ChatCompletions_Upstream400Relayed_NothingChargedOrReserved()
    {
        // An upstream error status relayed as is carries no output: released, nothing charged.
        var (id, secret) = await _gateway.MintKeyAsync();
        _gateway.Fake.Enqueue(FakeReply.Error(400));
        using var http = _gateway.Http(secret);

        using var response = await http.PostAsync("/v1/chat/completions", new StringContent("""{"model":"fake-gpt","messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var admin = _gateway.Http();
        Assert.Equal(0, (await admin.GetJsonAsync($"/v1/keys/{id}/usage")).Body.GetProperty("data").GetArrayLength());
        await AssertNothingReservedAsync();
    }

    private Task<JsonElement> SingleEntryAsync(string keyId) => _gateway.SingleUsageEntryAsync(keyId);

    private Task AssertNothingReservedAsync() => AssertNothingReservedAsync(_gateway);

    private static async Task AssertNothingReservedAsync(GatewayHost gateway)
    {
        using var admin = gateway.Http();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        long reserved;
        while ((reserved = (await admin.GetJsonAsync("/v1/wallet")).Body.GetProperty("reserved_micros").GetInt64()) != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, reserved);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}

/// <summary>A response body whose first flush is the client leaving: the connection is aborted and the write cancelled.</summary>
internal sealed class LeavingBodyFeature(IHttpResponseBodyFeature inner, HttpContext context) : IHttpResponseBodyFeature
{
    private readonly LeavingWriter _writer = new(inner.Writer, context);

    public Stream Stream => inner.Stream;

    public PipeWriter Writer => _writer;

    public void DisableBuffering() => inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) => inner.SendFileAsync(path, offset, count, cancellationToken);

    public Task CompleteAsync() => inner.CompleteAsync();

    private sealed class LeavingWriter(PipeWriter inner, HttpContext context) : PipeWriter
    {
        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            context.Abort();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!cancellationToken.IsCancellationRequested && DateTime.UtcNow < deadline)
            {
                await Task.Delay(5, CancellationToken.None);
            }

            throw new OperationCanceledException(cancellationToken);
        }
    }
}

/// <summary>
/// A component that throws between the reservation and the settle (here the upstream HTTP pipeline faults with an
/// exception that is not a transport failure): every exit path releases or settles, so nothing stays reserved.
/// </summary>
public sealed class ThrowingComponentTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(
        settings: new Dictionary<string, string?>
        {
            ["Qlaud:Models:2:Id"] = "fake-embed",
            ["Qlaud:Models:2:Capabilities:0"] = "embeddings",
            ["Qlaud:Models:2:Routes:0:Provider"] = "fake",
            ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "upstream-embed",
            ["Qlaud:Models:2:Routes:0:InputPerMTok"] = "1",
        },
        services: static services => services
            .AddHttpClient(Microsoft.Extensions.DependencyInjection.QlaudServiceCollectionExtensions.UpstreamHttpClient)
            .AddHttpMessageHandler(static () => new ThrowingHandler()));

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Theory]
    [InlineData("/v1/chat/completions", "fake-gpt", false)]
    [InlineData("/v1/chat/completions", "fake-gpt", true)]
    [InlineData("/v1/chat/completions", "fake-claude", false)]
    [InlineData("/v1/messages", "fake-claude", false)]
    [InlineData("/v1/messages", "fake-gpt", true)]
    public async Task Post_ComponentThrows_500InTheSurfacesShapeAndNothingStaysReserved(string path, string model, bool stream)
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"max_spend_usd":1}""");
        using var http = _gateway.Http(secret);

        using var response = await http.PostAsync(path, new StringContent(
            $$"""{"model":"{{model}}","max_tokens":50,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(path == "/v1/messages" ? "api_error" : "server_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
        await AssertNothingReservedAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task InProcessChatClient_ComponentThrows_NothingStaysReserved(bool stream)
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"max_spend_usd":1}""");
        var client = _gateway.Services.GetRequiredService<IChatClient>();
        var options = new ChatOptions { ModelId = "fake-gpt", MaxOutputTokens = 50, AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret } };

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            if (stream)
            {
                await foreach (var _ in client.GetStreamingResponseAsync("hello", options))
                {
                }
            }
            else
            {
                await client.GetResponseAsync("hello", options);
            }
        });

        await AssertNothingReservedAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task InProcessEmbeddingGenerator_ComponentThrows_NothingStaysReserved(bool modelsOptionOnly)
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"max_spend_usd":1}""");
        var generator = _gateway.Services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
        var options = new EmbeddingGenerationOptions
        {
            ModelId = modelsOptionOnly ? null : "fake-embed",
            AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = secret, [QlaudChatOptions.Models] = new[] { "fake-embed" } },
        };

        await Assert.ThrowsAsync<InvalidOperationException>(() => generator.GenerateAsync(["hello"], options));

        await AssertNothingReservedAsync();
    }

    private async Task AssertNothingReservedAsync()
    {
        using var admin = _gateway.Http();
        var (_, wallet) = await admin.GetJsonAsync("/v1/wallet");
        Assert.Equal(0, wallet.GetProperty("reserved_micros").GetInt64());
        Assert.Equal(0, wallet.GetProperty("recent_entries").GetArrayLength());
    }

    private sealed class ThrowingHandler : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            => throw new InvalidOperationException("A component of the upstream pipeline failed.");
    }
}

/// <summary><c>Qlaud:Metering:Enabled=false</c>: a pure router — keys authenticate, nothing is reserved, capped or billed.</summary>
public sealed class MeteringDisabledTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Metering:Enabled"] = "false" });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task ChatCompletions_MeteringDisabled_CapNotEnforcedAndNothingBilled()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":0}""");
        _gateway.Fake.Enqueue(FakeReply.Text("served") with { Usage = new FakeUsage { InputTokens = 1000, OutputTokens = 1000 } });

        ChatCompletion completion = await _gateway.OpenAIChat("fake-gpt", secret).CompleteChatAsync([new UserChatMessage("hello")]);

        Assert.Equal("served", completion.Content[0].Text);
        Assert.Single(_gateway.Fake.Requests);
        await Assert.ThrowsAsync<ClientResultException>(() => _gateway.OpenAIChat("fake-gpt", "qlk_live_NotAKey000000000000000000000000000000").CompleteChatAsync([new UserChatMessage("x")]));
        using var wallet = System.Text.Json.JsonDocument.Parse(await _gateway.Http().GetStringAsync("/v1/wallet"));
        Assert.Equal(0, wallet.RootElement.GetProperty("recent_entries").GetArrayLength());
    }
}

/// <summary>
/// The client's answer is whole before its spend is settled: with every settle held, the client still gets its complete
/// answer, and the charge lands once the settle is let go.
/// </summary>
public sealed class SettleAfterAnswerTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;
    private HeldSettleGuard _guard = null!;

    public async Task InitializeAsync()
    {
        _gateway = await GatewayHost.StartAsync(services: static services => services
            .AddSingleton(static sp => new HeldSettleGuard(sp.GetRequiredService<Qlaud.Metering.SpendGuard>()))
            .AddSingleton<Qlaud.Metering.ISpendGuard>(static sp => sp.GetRequiredService<HeldSettleGuard>()));
        _guard = _gateway.Services.GetRequiredService<HeldSettleGuard>();
    }

    public async Task DisposeAsync()
    {
        _guard.Gate.Set();
        await _gateway.DisposeAsync();
    }

    [Theory]
    [InlineData("fake-gpt", false)] // passthrough, sent with its length
    [InlineData("fake-gpt", true)] // passthrough stream
    [InlineData("fake-claude", false)] // translated to the Anthropic upstream and back
    [InlineData("fake-claude", true)]
    public async Task ChatCompletions_SettleHeld_ClientHasItsWholeAnswerFirst(string model, bool stream)
    {
        _gateway.Fake.Enqueue(FakeReply.Text("the whole answer") with { ChunkSize = 4, Usage = new FakeUsage { InputTokens = 12, OutputTokens = 5 } });

        string text;
        if (stream)
        {
            // Read to the end of the body, as a plain HTTP client does: the stream's last chunk must arrive too, not only [DONE].
            using var http = _gateway.Http();
            using var response = await http.PostAsync("/v1/chat/completions", new StringContent(
                $$"""{"model":"{{model}}","stream":true,"messages":[{"role":"user","content":"answer"}]}""", Encoding.UTF8, "application/json"));
            string body = await response.Content.ReadAsStringAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.EndsWith("data: [DONE]\n\n", body, StringComparison.Ordinal);
            var parts = new StringBuilder();
            foreach (string line in body.Split('\n'))
            {
                if (!line.StartsWith("data: {", StringComparison.Ordinal))
                {
                    continue;
                }

                using var chunk = JsonDocument.Parse(line["data: ".Length..]);
                var choices = chunk.RootElement.GetProperty("choices");
                if (choices.GetArrayLength() > 0 && choices[0].GetProperty("delta").TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                {
                    parts.Append(content.GetString());
                }
            }

            text = parts.ToString();
        }
        else
        {
            ChatCompletion completion = await _gateway.OpenAIChat(model).CompleteChatAsync([new UserChatMessage("answer")]).WaitAsync(TimeSpan.FromSeconds(30));
            text = completion.Content[0].Text;
        }

        Assert.Equal("the whole answer", text);
        await _guard.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30)); // the settle was reached and is held
        using var admin = _gateway.Http();
        Assert.Equal(0, (await admin.GetJsonAsync("/v1/usage")).Body.GetProperty("totals").GetProperty("requests").GetInt64());

        _guard.Gate.Set();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        long requests;
        while ((requests = (await admin.GetJsonAsync("/v1/usage")).Body.GetProperty("totals").GetProperty("requests").GetInt64()) == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(1, requests);
    }

    /// <summary>The real spend guard, with every settle held until <see cref="Gate"/> is set.</summary>
    private sealed class HeldSettleGuard(Qlaud.Metering.SpendGuard inner) : Qlaud.Metering.ISpendGuard
    {
        public ManualResetEventSlim Gate { get; } = new(false);

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Qlaud.Metering.SpendEstimate Estimate(Qlaud.Routing.RoutePlan plan, long inputTokens, long? maxOutputTokens) => inner.Estimate(plan, inputTokens, maxOutputTokens);

        public Qlaud.Metering.SpendEstimate Estimate(IReadOnlyList<Qlaud.Catalog.CatalogRoute> candidates, Qlaud.Catalog.ModelCatalog catalog, long inputTokens, long? maxOutputTokens)
            => inner.Estimate(candidates, catalog, inputTokens, maxOutputTokens);

        public ValueTask<Qlaud.Metering.SpendDecision> ReserveAsync(QlaudCaller caller, Qlaud.Metering.SpendEstimate estimate, CancellationToken cancellationToken)
            => inner.ReserveAsync(caller, estimate, cancellationToken);

        public void Settle(Qlaud.Metering.SpendReservation reservation, in Qlaud.Metering.SettledUsage usage)
        {
            Entered.TrySetResult();
            Gate.Wait(TimeSpan.FromSeconds(60));
            inner.Settle(reservation, usage);
        }

        public void Release(Qlaud.Metering.SpendReservation reservation) => inner.Release(reservation);
    }
}
