using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using OpenAI.Chat;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests;

/// <summary>
/// Upstream errors keep their identity (<c>UpstreamStatus</c>): once retries and fallbacks are exhausted, the client gets the
/// upstream's status and error type in its own dialect, seen through the official SDKs; a provider's 401/403 is the gateway's
/// failure (502) and moves on to the next route.
/// </summary>
public sealed class UpstreamErrorTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(configureFake2: true, settings: new Dictionary<string, string?>
    {
        // gpt-pair: two routes on the same fake upstream (providers fake and fake2), for fallback after a provider's 401/403.
        ["Qlaud:Providers:fake2:Dialect"] = "openai",
        ["Qlaud:Models:2:Id"] = "gpt-pair",
        ["Qlaud:Models:2:Routes:0:Provider"] = "fake",
        ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "first-gpt",
        ["Qlaud:Models:2:Routes:0:InputPerMTok"] = "1",
        ["Qlaud:Models:2:Routes:0:OutputPerMTok"] = "2",
        ["Qlaud:Models:2:Routes:1:Provider"] = "fake2",
        ["Qlaud:Models:2:Routes:1:UpstreamModel"] = "second-gpt",
        ["Qlaud:Models:2:Routes:1:InputPerMTok"] = "1",
        ["Qlaud:Models:2:Routes:1:OutputPerMTok"] = "2",
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static MessageCreateParams Ask(string model) => new() { Model = model, MaxTokens = 64, Messages = [new UserMessageParam("Hello there")] };

    [Theory]
    [InlineData(529, "overloaded_error")]
    [InlineData(500, "api_error")]
    [InlineData(429, "rate_limit_error")]
    public async Task Messages_AnthropicUpstreamErrorSameDialect_KeepsStatusAndType(int status, string type)
    {
        _gateway.Fake.Enqueue(FakeReply.Error(status));

        var ex = await Assert.ThrowsAnyAsync<AnthropicApiException>(() => _gateway.AnthropicClient().Messages.Create(Ask("fake-claude")));

        Assert.Equal((HttpStatusCode)status, ex.StatusCode);
        Assert.IsAssignableFrom(status == 429 ? typeof(AnthropicRateLimitException) : typeof(Anthropic5xxException), ex);
        Assert.Equal(type, ErrorType(ex.ResponseBody, anthropic: true));
    }

    [Theory]
    [InlineData(529, "server_error")]
    [InlineData(500, "server_error")]
    [InlineData(429, "requests")]
    public async Task ChatCompletions_AnthropicUpstreamErrorTranslated_KeepsStatusWithTheOpenAIType(int status, string type)
    {
        _gateway.Fake.Enqueue(FakeReply.Error(status));

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => _gateway.OpenAIChat("fake-claude").CompleteChatAsync([new UserChatMessage("hello")]));

        Assert.Equal(status, ex.Status);
        Assert.Equal(type, ErrorType(ex.GetRawResponse()!.Content.ToString(), anthropic: false));
    }

    [Theory]
    [InlineData(503, "overloaded_error")]
    [InlineData(500, "api_error")]
    [InlineData(504, "timeout_error")]
    public async Task Messages_OpenAIUpstreamErrorTranslated_KeepsStatusWithTheAnthropicType(int status, string type)
    {
        _gateway.Fake.Enqueue(FakeReply.Error(status));

        var ex = await Assert.ThrowsAnyAsync<AnthropicApiException>(() => _gateway.AnthropicClient().Messages.Create(Ask("fake-gpt")));

        Assert.Equal((HttpStatusCode)status, ex.StatusCode);
        Assert.IsType<Anthropic5xxException>(ex, exactMatch: false);
        Assert.Equal(type, ErrorType(ex.ResponseBody, anthropic: true));
    }

    [Fact]
    public async Task ChatCompletions_OpenAIUpstream500SameDialect_Keeps500ServerError()
    {
        _gateway.Fake.Enqueue(FakeReply.Error(500));

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => _gateway.OpenAIChat("fake-gpt").CompleteChatAsync([new UserChatMessage("hello")]));

        Assert.Equal(500, ex.Status);
        Assert.Equal("server_error", ErrorType(ex.GetRawResponse()!.Content.ToString(), anthropic: false));
    }

    [Theory]
    [InlineData(401)]
    [InlineData(403)]
    public async Task ChatCompletions_ProviderRejectsQlaudsKey_502NamingTheProvider(int status)
    {
        _gateway.Fake.Enqueue(FakeReply.Error(status));

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => _gateway.OpenAIChat("fake-gpt").CompleteChatAsync([new UserChatMessage("hello")]));

        Assert.Equal(502, ex.Status);
        string body = ex.GetRawResponse()!.Content.ToString();
        Assert.Equal("server_error", ErrorType(body, anthropic: false));
        Assert.Contains("provider 'fake' rejected the gateway's credentials", ErrorMessage(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Messages_ProviderRejectsQlaudsKey_502ApiErrorNotAuthentication()
    {
        _gateway.Fake.Enqueue(FakeReply.Error(401));

        var ex = await Assert.ThrowsAnyAsync<AnthropicApiException>(() => _gateway.AnthropicClient().Messages.Create(Ask("fake-claude")));

        Assert.Equal(HttpStatusCode.BadGateway, ex.StatusCode);
        Assert.IsNotType<AnthropicUnauthorizedException>(ex);
        Assert.Equal("api_error", ErrorType(ex.ResponseBody, anthropic: true));
        Assert.Contains("provider 'fakeanthropic' rejected the gateway's credentials", ErrorMessage(ex.ResponseBody), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(401)]
    [InlineData(403)]
    public async Task ChatCompletions_ProviderRejectsQlaudsKey_NextRouteServes(int status)
    {
        _gateway.Fake.Enqueue(FakeReply.Error(status));
        _gateway.Fake.Enqueue(FakeReply.Text("served by the second route"));

        ChatCompletion completion = await _gateway.OpenAIChat("gpt-pair").CompleteChatAsync([new UserChatMessage("hello")]);

        Assert.Equal("served by the second route", completion.Content[0].Text);
        Assert.Equal(["first-gpt", "second-gpt"], _gateway.Fake.Requests.Select(static r => r.Model));
    }

    [Fact]
    public async Task ChatCompletions_ConnectionRefused_502FromQlaud()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Providers:fake:BaseUrl"] = "http://127.0.0.1:9/v1" });

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => gateway.OpenAIChat("fake-gpt").CompleteChatAsync([new UserChatMessage("hello")]));

        Assert.Equal(502, ex.Status);
    }

    [Fact]
    public async Task Messages_Upstream400_RelayedAsIs()
    {
        const string error = """{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"}}""";
        _gateway.Fake.Enqueue(FakeReply.Error(400, error));
        using var http = _gateway.Http();

        using var response = await http.PostAsync("/v1/messages", new StringContent(
            """{"model":"fake-claude","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(error, await response.Content.ReadAsStringAsync());
    }

    private static string ErrorMessage(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("error").GetProperty("message").GetString()!;
    }

    private static string? ErrorType(string body, bool anthropic)
    {
        using var doc = JsonDocument.Parse(body);
        if (anthropic)
        {
            Assert.Equal("error", doc.RootElement.GetProperty("type").GetString());
        }

        return doc.RootElement.GetProperty("error").GetProperty("type").GetString();
    }
}
