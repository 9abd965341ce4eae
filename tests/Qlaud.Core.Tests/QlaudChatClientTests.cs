using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Qlaud.FakeProvider;

namespace Qlaud.Core.Tests;

/// <summary>The in-process <see cref="IChatClient"/> from <c>AddQlaud()</c>, against a fake upstream over real HTTP.</summary>
public sealed class QlaudChatClientTests : IAsyncLifetime
{
    private FakeProviderServer _fake = null!;
    private ServiceProvider _services = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeProviderServer.StartAsync();
        _services = Build(_fake);
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _fake.DisposeAsync();
    }

    internal static ServiceProvider Build(FakeProviderServer fake, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Qlaud:Providers:fake:Dialect"] = "openai",
            ["Qlaud:Providers:fake:BaseUrl"] = fake.OpenAIBaseUri.ToString(),
            ["Qlaud:Providers:fake:ApiKey"] = "sk-fake",
            ["Qlaud:Providers:fakeanthropic:Dialect"] = "anthropic",
            ["Qlaud:Providers:fakeanthropic:BaseUrl"] = fake.BaseUri.ToString(),
            ["Qlaud:Providers:fakeanthropic:ApiKey"] = "sk-ant",
            ["Qlaud:Models:0:Id"] = "fake-gpt",
            ["Qlaud:Models:0:Routes:0:Provider"] = "fake",
            ["Qlaud:Models:0:Routes:0:UpstreamModel"] = "upstream-gpt",
            ["Qlaud:Models:0:Routes:0:InputPerMTok"] = "1",
            ["Qlaud:Models:0:Routes:0:OutputPerMTok"] = "2",
            ["Qlaud:Models:1:Id"] = "fake-claude",
            ["Qlaud:Models:1:Routes:0:Provider"] = "fakeanthropic",
            ["Qlaud:Models:1:Routes:0:UpstreamModel"] = "upstream-claude",
            ["Qlaud:Models:1:Routes:0:InputPerMTok"] = "3",
            ["Qlaud:Models:1:Routes:0:OutputPerMTok"] = "15",
            ["Qlaud:Models:1:Routes:0:CacheReadPerMTok"] = "0.3",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddQlaud();
        return services.BuildServiceProvider();
    }

    private IChatClient Client => _services.GetRequiredService<IChatClient>();

    [Theory]
    [InlineData("fake-gpt", "fake/upstream-gpt", "/v1/chat/completions")]
    [InlineData("fake-claude", "fakeanthropic/upstream-claude", "/v1/messages")]
    public async Task GetResponseAsync_RoutesByModelId_UsageRouteAndCost(string model, string route, string path)
    {
        _fake.Enqueue(FakeReply.Text("Hi there.") with { Usage = new FakeUsage { InputTokens = 1_000, OutputTokens = 500 } });

        var response = await Client.GetResponseAsync("Say hi", new ChatOptions { ModelId = model, MaxOutputTokens = 100 });

        Assert.Equal("Hi there.", response.Text);
        Assert.Equal(500, response.Usage!.OutputTokenCount);
        Assert.Equal(route, response.AdditionalProperties![QlaudResponseProperties.Route]);
        Assert.Equal(1, response.AdditionalProperties[QlaudResponseProperties.Attempts]);
        // fake-gpt: 1,000 × $1 + 500 × $2 per million = 2,000 micro-USD; fake-claude: 1,000 × $3 + 500 × $15 = 10,500.
        Assert.Equal(model == "fake-gpt" ? 2_000L : 10_500L, response.AdditionalProperties[QlaudResponseProperties.CostMicros]);
        var upstream = Assert.Single(_fake.Requests);
        Assert.Equal(path, upstream.Path);
        Assert.Equal(100, upstream.BodyJson!.Value.GetProperty("max_tokens").GetInt32());
        Assert.Equal(model == "fake-gpt" ? "upstream-gpt" : "upstream-claude", upstream.Model);
    }

    [Theory]
    [InlineData("fake-gpt")]
    [InlineData("fake-claude")]
    public async Task GetStreamingResponseAsync_TextToolCallsAndFinalProperties(string model)
    {
        _fake.Enqueue(FakeReply.ToolCall(new FakeToolCall("lookup", """{"q":"qlaud"}""", "call_1"), new FakeToolCall("time", "{}", "call_2")) with { ChunkSize = 3 });

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in Client.GetStreamingResponseAsync("find it", new ChatOptions
        {
            ModelId = model,
            Tools = [AIFunctionFactory.CreateDeclaration("lookup", "Looks up", JsonDocument.Parse("""{"type":"object","properties":{"q":{"type":"string"}}}""").RootElement), AIFunctionFactory.CreateDeclaration("time", "Time", JsonDocument.Parse("""{"type":"object"}""").RootElement)],
        }))
        {
            updates.Add(update);
        }

        var calls = updates.SelectMany(static u => u.Contents).OfType<FunctionCallContent>().ToList();
        Assert.Equal(["lookup", "time"], calls.Select(static c => c.Name));
        Assert.Equal("qlaud", calls[0].Arguments!["q"]?.ToString());
        Assert.DoesNotContain(updates.SelectMany(static u => u.Contents), static c => c.GetType().Name == "ToolCallDeltaContent");
        Assert.Equal(model == "fake-gpt" ? "fake/upstream-gpt" : "fakeanthropic/upstream-claude", updates[^1].AdditionalProperties![QlaudResponseProperties.Route]);
        var combined = updates.ToChatResponse();
        Assert.Equal(ChatFinishReason.ToolCalls, combined.FinishReason);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_Text_ConcatenatesToTheReply()
    {
        _fake.Enqueue(FakeReply.Text("one two three four") with { ChunkSize = 2, Usage = new FakeUsage { InputTokens = 7, OutputTokens = 4 } });
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in Client.GetStreamingResponseAsync("count", new ChatOptions { ModelId = "fake-gpt" }))
        {
            updates.Add(update);
        }

        var response = updates.ToChatResponse();
        Assert.Equal("one two three four", response.Text);
        Assert.Equal(4, response.Usage!.OutputTokenCount);
        Assert.True(_fake.Requests[0].BodyJson!.Value.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
    }

    [Fact]
    public async Task GetResponseAsync_EchoModel_WorksOffline()
    {
        var response = await Client.GetResponseAsync("offline please", new ChatOptions { ModelId = "qlaud/echo" });
        Assert.Equal("offline please", response.Text);
        Assert.Equal("qlaud/echo", response.ModelId);
    }

    [Fact]
    public async Task GetResponseAsync_UnknownModel_QlaudExceptionNotFound()
    {
        var ex = await Assert.ThrowsAsync<QlaudException>(() => Client.GetResponseAsync("x", new ChatOptions { ModelId = "nope" }));
        Assert.Equal(404, ex.Error.StatusCode);
        Assert.Empty(_fake.Requests);
    }

    [Fact]
    public async Task GetResponseAsync_NoModelId_ArgumentException()
        => await Assert.ThrowsAsync<ArgumentException>(() => Client.GetResponseAsync("x"));

    [Fact]
    public async Task GetResponseAsync_Upstream400_QlaudExceptionWithUpstreamMessage()
    {
        _fake.Enqueue(FakeReply.Error(400, """{"error":{"message":"bad temperature","type":"invalid_request_error","param":null,"code":null}}"""));
        var ex = await Assert.ThrowsAsync<QlaudException>(() => Client.GetResponseAsync("x", new ChatOptions { ModelId = "fake-gpt" }));
        Assert.Equal(400, ex.Error.StatusCode);
        Assert.Contains("bad temperature", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddQlaud_BadConfiguration_FailsNamingTheKey()
    {
        using var services = Build(_fake, new Dictionary<string, string?> { ["Qlaud:Models:0:Routes:0:InputPerMTok"] = "-1" });
        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IChatClient>());
        Assert.Contains("Qlaud:Models:0:Routes:0:InputPerMTok", ex.Message, StringComparison.Ordinal);
    }
}
