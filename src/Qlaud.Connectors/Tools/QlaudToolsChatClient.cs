using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Qlaud.Connectors.Mcp;
using Qlaud.Metering;

namespace Qlaud.Connectors.Tools;

/// <summary>Adds the <c>qlaud_*</c> meta-tools, bound to the call's end user, to every request of an app's own
/// <see cref="IChatClient"/> pipeline; a <see cref="FunctionInvokingChatClient"/> below it executes them.</summary>
/// <remarks>The end user is the call's caller as metering resolves it (<see cref="QlaudChatOptionKeys"/>,
/// <see cref="QlaudCallScope"/>). Connect links need <c>Qlaud:Connectors:PublicBaseUrl</c> outside an HTTP request.</remarks>
internal sealed class QlaudToolsChatClient(IChatClient inner, QlaudTools tools, QlaudCallerResolver callers) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        => await base.GetResponseAsync(messages, await WithToolsAsync(options, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var withTools = await WithToolsAsync(options, cancellationToken).ConfigureAwait(false);
        await foreach (var update in base.GetStreamingResponseAsync(messages, withTools, cancellationToken).ConfigureAwait(false))
        {
            yield return update;
        }
    }

    private async Task<ChatOptions> WithToolsAsync(ChatOptions? options, CancellationToken cancellationToken)
    {
        var caller = await callers.ResolveOrThrowAsync(options, cancellationToken).ConfigureAwait(false);
        var runtime = new ToolRuntime(tools, caller);
        var result = options?.Clone() ?? new ChatOptions();
        var list = new List<AITool>(result.Tools ?? []);
        foreach (var tool in runtime.MetaTools())
        {
            if (!list.Any(t => t.Name == tool.Name))
            {
                list.Add(tool);
            }
        }

        result.Tools = list;
        return result;
    }
}
