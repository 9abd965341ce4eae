using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Qlaud.Core.Tests.Infrastructure;

/// <summary>An <see cref="IChatClient"/> driven by callbacks; counts calls.</summary>
public sealed class FakeChatClient : IChatClient
{
    public Func<IEnumerable<ChatMessage>, ChatOptions?, ChatResponse> Respond { get; set; } = static (_, _) => new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"));

    public Func<IEnumerable<ChatMessage>, ChatOptions?, IEnumerable<ChatResponseUpdate>> Stream { get; set; } = static (_, _) => [];

    public int Calls { get; private set; }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Calls++;
        return Task.FromResult(Respond(messages, options));
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Calls++;
        foreach (var update in Stream(messages, options))
        {
            await Task.Yield();
            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
