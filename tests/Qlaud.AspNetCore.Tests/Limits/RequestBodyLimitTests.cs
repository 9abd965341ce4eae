using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using OpenAI.Chat;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Threads;

namespace Qlaud.AspNetCore.Tests.Limits;

/// <summary><c>Qlaud:Limits:MaxRequestBytes</c> over real HTTP: 413 in each surface's own error shape, no upstream request.</summary>
public sealed class RequestBodyLimitTests : IAsyncLifetime
{
    private const int Limit = 64 * 1024;

    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
    {
        ["Qlaud:Limits:MaxRequestBytes"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static string Big => new('x', Limit + 1000);

    [Fact]
    public async Task ChatCompletions_BodyOverLimit_Answers413InTheOpenAIShape()
    {
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => _gateway.OpenAIChat("fake-gpt").CompleteChatAsync([new UserChatMessage(Big)]));

        Assert.Equal(413, ex.Status);
        using var body = JsonDocument.Parse(ex.GetRawResponse()!.Content.ToString());
        var error = body.RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal("request_too_large", error.GetProperty("code").GetString());
        Assert.Contains("Qlaud:Limits:MaxRequestBytes", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task Messages_BodyOverLimit_Answers413InTheAnthropicShape()
    {
        var ex = await Assert.ThrowsAnyAsync<AnthropicApiException>(() => _gateway.AnthropicClient().Messages.Create(new MessageCreateParams
        {
            Model = "fake-claude",
            MaxTokens = 10,
            Messages = [new UserMessageParam(Big)],
        }));

        Assert.Equal((HttpStatusCode)413, ex.StatusCode);
        using var body = JsonDocument.Parse(ex.ResponseBody);
        Assert.Equal("error", body.RootElement.GetProperty("type").GetString());
        Assert.Equal("request_too_large", body.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Theory]
    [InlineData("/v1/chat/completions", true)]
    [InlineData("/v1/chat/completions", false)]
    [InlineData("/v1/messages", true)]
    [InlineData("/v1/messages", false)]
    public async Task Post_BodyOverLimitWithOrWithoutContentLength_Answers413(string path, bool contentLength)
    {
        using var http = _gateway.Http();
        byte[] json = Encoding.UTF8.GetBytes($$"""{"model":"fake-gpt","max_tokens":5,"messages":[{"role":"user","content":"{{Big}}"}]}""");
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            // Without a length the body is sent chunked, and only reading it finds the limit.
            Content = contentLength ? new ByteArrayContent(json) : new StreamContent(new MemoryStream(json)),
        };
        request.Content.Headers.ContentType = new("application/json");
        if (!contentLength)
        {
            request.Headers.TransferEncodingChunked = true;
        }

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        string text = await response.Content.ReadAsStringAsync();
        Assert.Contains("request_too_large", text, StringComparison.Ordinal);
        Assert.Empty(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task ChatCompletions_BodyJustUnderLimit_IsForwarded()
    {
        _gateway.Fake.Enqueue(Qlaud.FakeProvider.FakeReply.Text("ok"));

        var completion = await _gateway.OpenAIChat("fake-gpt").CompleteChatAsync([new UserChatMessage(new string('x', Limit - 500))]);

        Assert.Equal("ok", completion.Value.Content[0].Text);
        Assert.Single(_gateway.Fake.Requests);
    }

    [Fact]
    public async Task ThreadTurn_BodyOverLimit_Answers413InTheAnthropicShapeAndStoresNothing()
    {
        using var http = _gateway.Http();
        string thread = await http.CreateThreadAsync();

        var (status, _, answer) = await http.PostTurnAsync(thread, ThreadTestClient.Turn(Big));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        using var body = JsonDocument.Parse(answer);
        Assert.Equal("error", body.RootElement.GetProperty("type").GetString());
        Assert.Equal("request_too_large", body.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("Qlaud:Limits:MaxRequestBytes", body.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(_gateway.Fake.Requests);
        Assert.Empty(await http.MessagesAsync(thread));
    }
}
