using System.Net;
using System.Text;
using System.Text.Json;
using Anthropic.Helpers;
using Anthropic.Models.Messages;
using OpenAI.Chat;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests;

/// <summary>
/// Translated routes (an OpenAI client on an Anthropic route, an Anthropic client on an OpenAI-dialect route): usage, prompt
/// caching and thinking survive the translation, asserted on what the client gets and what reaches the fake upstream.
/// </summary>
public sealed class TranslationFidelityTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task OpenAIStreamingOnAnthropicRoute_IncludeUsage_FinalChunkCarriesInputOutputTotalAndCachedTokens()
    {
        var reply = FakeReply.Text("Bonjour from Claude.") with { ChunkSize = 4, Usage = new FakeUsage { InputTokens = 40, OutputTokens = 7, CachedTokens = 100, CacheCreationTokens = 10 } };
        _gateway.Fake.Enqueue(reply, reply);
        var chat = _gateway.OpenAIChat("fake-claude");

        ChatCompletion whole = await chat.CompleteChatAsync([new UserChatMessage("Greet me.")]);
        ChatTokenUsage? streamed = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Greet me.")]))
        {
            streamed = update.Usage ?? streamed;
        }

        Assert.NotNull(streamed);
        Assert.Equal(150, streamed.InputTokenCount); // 40 uncached + 100 cache reads + 10 cache writes
        Assert.Equal(7, streamed.OutputTokenCount);
        Assert.Equal(157, streamed.TotalTokenCount);
        Assert.Equal(100, streamed.InputTokenDetails.CachedTokenCount);
        Assert.Equal(whole.Usage.InputTokenCount, streamed.InputTokenCount);
        Assert.Equal(whole.Usage.TotalTokenCount, streamed.TotalTokenCount);
    }
}
