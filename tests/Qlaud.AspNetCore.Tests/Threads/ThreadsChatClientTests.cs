using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Threads;

namespace Qlaud.AspNetCore.Tests.Threads;

/// <summary><c>UseQlaudThreads()</c> in an app's own <see cref="IChatClient"/> pipeline: <see cref="ChatOptions.ConversationId"/>
/// set to a thread id loads the thread's history and stores the new turn, in the same thread the HTTP surface serves.</summary>
public sealed class ThreadsChatClientTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    // The app composes its pipeline before AddQlaud(): Qlaud's own IChatClient registration then stands aside.
    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(services: static s => s
        .AddChatClient(static sp => sp.GetRequiredKeyedService<IChatClient>(QlaudServiceCollectionExtensions.GatewayChatClientKey))
        .UseQlaudThreads()
        .UseQlaudMetering());

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task GetResponse_ConversationIdIsAThread_HistorySentAndTurnStoredInTheThread()
    {
        var chat = _gateway.Services.GetRequiredService<IChatClient>();
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync("""{"model":"fake-claude","system":"Be brief."}""");
        _gateway.Fake.Enqueue(FakeReply.Text("Noted, Ann."), FakeReply.Text("You are Ann."));

        var first = await chat.GetResponseAsync("My name is Ann.", new ChatOptions { ConversationId = id });
        var second = await chat.GetResponseAsync("What is my name?", new ChatOptions { ConversationId = id });
        var stored = await http.MessagesAsync(id);

        Assert.NotNull(chat.GetService<ThreadsChatClient>());
        Assert.Equal("Noted, Ann.", first.Text);
        Assert.Equal(id, first.ConversationId);
        Assert.Equal("You are Ann.", second.Text);
        using var sent = JsonDocument.Parse(_gateway.Fake.Requests[1].BodyText);
        Assert.Equal("upstream-claude", sent.RootElement.GetProperty("model").GetString());
        Assert.Contains("Be brief.", sent.RootElement.GetProperty("system").GetRawText());
        Assert.Equal(["user:My name is Ann.", "assistant:Noted, Ann.", "user:What is my name?"], sent.RootElement.GetProperty("messages").EnumerateArray()
            .Select(static m => m.GetProperty("role").GetString() + ":" + Text(m.GetProperty("content"))));
        Assert.Equal(["user", "assistant", "user", "assistant"], stored.Select(static m => m.GetProperty("role").GetString()));
        Assert.Equal("You are Ann.", stored[3].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.StartsWith("req_", stored[3].GetProperty("request_id").GetString()); // metered inside the thread decorator
    }

    private static string? Text(JsonElement content) => content.ValueKind == JsonValueKind.String ? content.GetString() : content[0].GetProperty("text").GetString();

    [Fact]
    public async Task GetStreamingResponse_ConversationIdIsAThread_ReplyStoredAfterTheStream()
    {
        var chat = _gateway.Services.GetRequiredService<IChatClient>();
        using var http = _gateway.Http();
        string id = await http.CreateThreadAsync("""{"model":"fake-gpt"}""");
        _gateway.Fake.Enqueue(FakeReply.Text("Streamed answer here.") with { ChunkSize = 4 });

        var text = string.Concat(await chat.GetStreamingResponseAsync("Stream, please.", new ChatOptions { ConversationId = id }).Select(static u => u.Text).ToListAsync());
        var stored = await http.MessagesAsync(id);

        Assert.Equal("Streamed answer here.", text);
        Assert.Equal(2, stored.Count);
        Assert.Equal("Streamed answer here.", stored[1].GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task GetResponse_UnknownThreadOrNoThread_NotFoundOrPassThrough()
    {
        var chat = _gateway.Services.GetRequiredService<IChatClient>();
        _gateway.Fake.Enqueue(FakeReply.Text("Plain."));

        var missing = await Assert.ThrowsAsync<QlaudException>(() => chat.GetResponseAsync("Hi", new ChatOptions { ConversationId = "thr_missing", ModelId = "fake-gpt" }));
        var plain = await chat.GetResponseAsync("Hi", new ChatOptions { ModelId = "fake-gpt" });

        Assert.Equal(QlaudErrorKind.NotFound, missing.Error.Kind);
        Assert.Equal("Plain.", plain.Text);
        Assert.Single(_gateway.Fake.Requests);
    }
}
