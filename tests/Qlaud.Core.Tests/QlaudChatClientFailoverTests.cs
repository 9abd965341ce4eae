using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.FakeProvider;
using Qlaud.Routing;

namespace Qlaud.Core.Tests;

/// <summary>The in-process client shares the wire surface's attempt policy: fallback, models, provider preferences, streams.</summary>
public sealed class QlaudChatClientFailoverTests : IAsyncLifetime
{
    private FakeProviderServer _primary = null!;
    private FakeProviderServer _backup = null!;
    private ServiceProvider _services = null!;

    public async Task InitializeAsync()
    {
        _primary = await FakeProviderServer.StartAsync();
        _backup = await FakeProviderServer.StartAsync();
        _services = QlaudChatClientTests.Build(_primary, new Dictionary<string, string?>
        {
            ["Qlaud:Routing:MaxRetries"] = "0",
            ["Qlaud:Providers:backup:Dialect"] = "openai",
            ["Qlaud:Providers:backup:BaseUrl"] = _backup.OpenAIBaseUri.ToString(),
            ["Qlaud:Providers:backup:ApiKey"] = "sk-backup",
            ["Qlaud:Models:2:Id"] = "duo",
            ["Qlaud:Models:2:Routes:0:Provider"] = "fake",
            ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "primary-gpt",
            ["Qlaud:Models:2:Routes:0:InputPerMTok"] = "1",
            ["Qlaud:Models:2:Routes:0:OutputPerMTok"] = "1",
            ["Qlaud:Models:2:Routes:1:Provider"] = "backup",
            ["Qlaud:Models:2:Routes:1:UpstreamModel"] = "backup-gpt",
            ["Qlaud:Models:2:Routes:1:InputPerMTok"] = "1",
            ["Qlaud:Models:2:Routes:1:OutputPerMTok"] = "1",
            ["Qlaud:Models:3:Id"] = "solo-backup",
            ["Qlaud:Models:3:Routes:0:Provider"] = "backup",
            ["Qlaud:Models:3:Routes:0:UpstreamModel"] = "solo-b",
            ["Qlaud:Models:3:Routes:0:InputPerMTok"] = "1",
            ["Qlaud:Models:3:Routes:0:OutputPerMTok"] = "1",
        });
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _primary.DisposeAsync();
        await _backup.DisposeAsync();
    }

    private IChatClient Client => _services.GetRequiredService<IChatClient>();

    [Fact]
    public async Task GetResponseAsync_FirstRoute500_NextRouteAnswers()
    {
        _primary.Enqueue(FakeReply.Error(500));
        _backup.Enqueue(FakeReply.Text("from the backup"));

        var response = await Client.GetResponseAsync("hi", new ChatOptions { ModelId = "duo" });

        Assert.Equal("from the backup", response.Text);
        Assert.Equal("backup/backup-gpt", response.AdditionalProperties![QlaudResponseProperties.Route]);
        Assert.Equal(2, response.AdditionalProperties[QlaudResponseProperties.Attempts]);
    }

    [Fact]
    public async Task GetResponseAsync_ModelsOption_FallsBackToTheNextModelAndIsNotSentUpstream()
    {
        _primary.Enqueue(FakeReply.Error(503));

        var response = await Client.GetResponseAsync("hi", new ChatOptions
        {
            ModelId = "fake-gpt",
            AdditionalProperties = new() { [QlaudChatOptions.Models] = new[] { "solo-backup" } },
        });

        Assert.Equal("backup/solo-b", response.AdditionalProperties![QlaudResponseProperties.Route]);
        var sent = Assert.Single(_backup.Requests).BodyText;
        Assert.DoesNotContain("qlaud.", sent, StringComparison.Ordinal);
        Assert.DoesNotContain("solo-backup", sent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetResponseAsync_ProviderPreferences_OrderAndIgnore()
    {
        var ordered = await Client.GetResponseAsync("hi", new ChatOptions
        {
            ModelId = "duo",
            AdditionalProperties = new() { [QlaudChatOptions.Provider] = new ProviderPreferences { Order = ["backup"] } },
        });
        var ignored = await Client.GetResponseAsync("hi", new ChatOptions
        {
            ModelId = "duo",
            AdditionalProperties = new() { [QlaudChatOptions.Provider] = new ProviderPreferences { Ignore = ["backup"] } },
        });

        Assert.Equal("backup/backup-gpt", ordered.AdditionalProperties![QlaudResponseProperties.Route]);
        Assert.Equal("fake/primary-gpt", ignored.AdditionalProperties![QlaudResponseProperties.Route]);
    }

    [Fact]
    public async Task GetResponseAsync_EveryRouteFails_QlaudExceptionNamingEachRoute()
    {
        _primary.Enqueue(FakeReply.Error(500));
        _backup.Enqueue(FakeReply.Error(429));

        var ex = await Assert.ThrowsAsync<QlaudException>(() => Client.GetResponseAsync("hi", new ChatOptions { ModelId = "duo" }));

        Assert.Equal(429, ex.Error.StatusCode);
        Assert.Contains("fake/primary-gpt", ex.Message, StringComparison.Ordinal);
        Assert.Contains("backup/backup-gpt", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_FirstRouteFailsBeforeTheFirstUpdate_NextRouteStreams()
    {
        _primary.Enqueue(FakeReply.Error(503));
        _backup.Enqueue(FakeReply.Text("streamed from the backup") with { ChunkSize = 5 });

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in Client.GetStreamingResponseAsync("hi", new ChatOptions { ModelId = "duo" }))
        {
            updates.Add(update);
        }

        Assert.Equal("streamed from the backup", updates.ToChatResponse().Text);
        Assert.Equal("backup/backup-gpt", updates[^1].AdditionalProperties![QlaudResponseProperties.Route]);
        Assert.Equal(2, updates[^1].AdditionalProperties![QlaudResponseProperties.Attempts]);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_CutAfterTheFirstUpdate_ThrowsWithoutRetry()
    {
        _primary.Enqueue(FakeReply.CutOff("a long answer that will not finish", afterChunks: 2) with { ChunkSize = 4 });

        var texts = new List<string>();
        var ex = await Assert.ThrowsAsync<QlaudException>(async () =>
        {
            await foreach (var update in Client.GetStreamingResponseAsync("hi", new ChatOptions { ModelId = "duo" }))
            {
                texts.Add(update.Text);
            }
        });

        Assert.Equal("stream_truncated", ex.Error.Code);
        Assert.NotEmpty(string.Concat(texts));
        Assert.Single(_primary.Requests);
        Assert.Empty(_backup.Requests);
    }
}
