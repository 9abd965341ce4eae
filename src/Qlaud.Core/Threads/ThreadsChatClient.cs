using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Dialects.Anthropic;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Threads;

/// <summary>
/// Managed threads for any <see cref="IChatClient"/> pipeline: a call whose <see cref="ChatOptions.ConversationId"/> is a
/// Qlaud thread id (<c>thr_…</c>) is sent with the thread's history first, and the call's new messages and the answer are
/// appended to the thread, the same thread the <c>/v1/threads</c> endpoints and <see cref="IQlaudThreads"/> read.
/// </summary>
/// <remarks>
/// <para>The caller is resolved as for metering (<see cref="QlaudChatOptionKeys"/> or <see cref="QlaudCallScope"/>); a thread
/// the caller may not see is a <see cref="QlaudErrorKind.NotFound"/> <see cref="QlaudException"/>. Calls on one thread run
/// one at a time. The history is fitted to the model's context window by the <c>truncate</c> rule (the stored per-message
/// token counts, <see cref="ChatOptions.MaxOutputTokens"/>); system messages and <see cref="ChatOptions.Instructions"/> are
/// sent but not stored.</para>
/// <para>Nothing is stored when the inner client throws. The answer's <see cref="ChatResponse.ConversationId"/> is the thread
/// id, so MEAI's function-invocation loop outside this client sends only the new tool results on its next call.</para>
/// <para>Calls without a thread id pass through untouched.</para>
/// </remarks>
internal sealed class ThreadsChatClient(IChatClient inner, IThreadStore store, IThreadTurnLock locks, QlaudCallerResolver callers, Routing.Router router,
    TimeProvider time) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (options?.ConversationId is not { } threadId || !threadId.StartsWith(ThreadIds.ThreadPrefix, StringComparison.Ordinal))
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }

        var added = messages as IList<ChatMessage> ?? [.. messages];
        await using var turnLock = (await locks.AcquireAsync(threadId, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        var (thread, send, sendOptions) = await PrepareAsync(threadId, added, options, cancellationToken).ConfigureAwait(false);
        var response = await base.GetResponseAsync(send, sendOptions, cancellationToken).ConfigureAwait(false);
        await PersistAsync(thread, added, response, sendOptions.ModelId).ConfigureAwait(false);
        response.ConversationId = threadId;
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (options?.ConversationId is not { } threadId || !threadId.StartsWith(ThreadIds.ThreadPrefix, StringComparison.Ordinal))
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                yield return update;
            }

            yield break;
        }

        var added = messages as IList<ChatMessage> ?? [.. messages];
        await using var turnLock = (await locks.AcquireAsync(threadId, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        var (thread, send, sendOptions) = await PrepareAsync(threadId, added, options, cancellationToken).ConfigureAwait(false);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in base.GetStreamingResponseAsync(send, sendOptions, cancellationToken).ConfigureAwait(false))
        {
            updates.Add(update);
            update.ConversationId = threadId;
            yield return update;
        }

        await PersistAsync(thread, added, updates.ToChatResponse(), sendOptions.ModelId).ConfigureAwait(false);
    }

    /// <summary>The thread, the messages to send (history fitted to the window, then the new ones) and the options without the thread id.</summary>
    private async Task<(ThreadEntity Thread, List<ChatMessage> Send, ChatOptions Options)> PrepareAsync(string threadId, IList<ChatMessage> added, ChatOptions options,
        CancellationToken cancellationToken)
    {
        var caller = await callers.ResolveOrThrowAsync(options, cancellationToken).ConfigureAwait(false);
        var thread = await store.FindThreadAsync(ThreadScope.For(caller), threadId, cancellationToken).ConfigureAwait(false)
            ?? throw new QlaudException(ThreadErrors.NotFound(threadId));
        var sendOptions = options.Clone();
        sendOptions.ConversationId = null;
        sendOptions.ModelId ??= thread.Model;
        if (sendOptions.Instructions is null && thread.System is { } system)
        {
            sendOptions.Instructions = system;
        }

        var history = await store.LoadHistoryAsync(threadId, -1, cancellationToken).ConfigureAwait(false);
        var window = new List<ContextMessage>(history.Count + 1);
        foreach (var message in history)
        {
            if (message.ContentJson != "[]")
            {
                window.Add(message.Tokens > 0 ? message : message with { Tokens = ContextWindow.Estimate(message.Role, message.ContentJson) });
            }
        }

        long newTokens = Tokenization.ConversationTokens.Count(added, sendOptions, Tokenization.TokenEncoding.Cl100k);
        // The new messages count as one turn; tool results continue the turn of the tool call before them.
        bool toolResults = added.Any(static m => m.Contents.Any(static c => c is FunctionResultContent));
        window.Add(new ContextMessage("user", toolResults ? """[{"type":"tool_result","tool_use_id":"new","content":""}]""" : """[{"type":"text","text":""}]""", newTokens));
        int first = ContextWindow.FirstWithin(window, ContextLength(sendOptions.ModelId) - (sendOptions.MaxOutputTokens ?? 0));
        if (first < 0)
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest,
                $"The new messages and max output tokens do not fit the context length of '{sendOptions.ModelId}'.", "context_length_exceeded"));
        }

        var send = new List<ChatMessage>(window.Count + added.Count);
        if (window.Count - 1 > first)
        {
            send.AddRange(ToChatMessages(window, first, window.Count - 1));
        }

        send.AddRange(added);
        return (thread, send, sendOptions);
    }

    private long ContextLength(string? model)
    {
        if (model is null)
        {
            return int.MaxValue;
        }

        long length = int.MaxValue;
        foreach (var route in router.Select(model, null, default).Candidates)
        {
            length = Math.Min(length, route.ContextLength);
        }

        return router.Catalog.TryGetModel(model, out var entry) && entry.ContextLength > 0 ? Math.Min(length, entry.ContextLength) : length;
    }

    /// <summary>Stored messages as chat messages, read by the Anthropic dialect as a <c>/v1/messages</c> request would be.</summary>
    private static IList<ChatMessage> ToChatMessages(List<ContextMessage> window, int first, int end)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("model", "thread");
            writer.WriteNumber("max_tokens", 1);
            writer.WriteStartArray("messages");
            for (int i = first; i < end; i++)
            {
                writer.WriteStartObject();
                writer.WriteString("role", window[i].Role);
                writer.WritePropertyName("content");
                writer.WriteRawValue(window[i].ContentJson, skipInputValidation: true);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return AnthropicDialect.Instance.ReadRequest(buffer.WrittenSpan).Messages;
    }

    /// <summary>Appends the call's new messages (system messages left out) and the answer, in one transaction.</summary>
    private async Task PersistAsync(ThreadEntity thread, IList<ChatMessage> added, ChatResponse response, string? model)
    {
        var conversation = new List<ChatMessage>(added.Count + response.Messages.Count);
        foreach (var message in added)
        {
            if (message.Role != ChatRole.System)
            {
                conversation.Add(message);
            }
        }

        conversation.AddRange(response.Messages);
        var (roles, contents) = ToAnthropic(conversation);
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var usage = response.Usage is { } details ? TokenUsage.From(details) : default(TokenUsage);
        var entities = new List<ThreadMessageEntity>(roles.Count);
        for (int i = 0; i < roles.Count; i++)
        {
            bool last = i == roles.Count - 1 && roles[i] == "assistant";
            entities.Add(new ThreadMessageEntity
            {
                Id = ThreadIds.NewMessageId(time), ThreadId = thread.Id, Role = roles[i], ContentJson = contents[i],
                ContextTokens = ContextWindow.Estimate(roles[i], contents[i]), Model = model,
                InputTokens = last ? usage.Input : 0, OutputTokens = last ? usage.Output : 0,
                RequestId = last && response.AdditionalProperties?.TryGetValue(QlaudResponseProperties.RequestId, out var id) == true ? id as string : null,
                Route = last && response.AdditionalProperties?.TryGetValue(QlaudResponseProperties.Route, out var route) == true ? route as string : null,
                StopReason = last ? response.FinishReason?.Value : null,
                Status = ThreadMessageStatus.Complete, CreatedAtMs = now,
            });
        }

        await store.AppendMessagesAsync(thread.Id, entities, now, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Chat messages as Anthropic messages (roles and content-block arrays), written by the Anthropic dialect.</summary>
    private static (List<string> Roles, List<string> Contents) ToAnthropic(List<ChatMessage> messages)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            AnthropicDialect.Instance.WriteRequest(writer, new CanonicalChatRequest(messages, new ChatOptions { MaxOutputTokens = 1 }, false), "thread");
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        var roles = new List<string>();
        var contents = new List<string>();
        foreach (var message in document.RootElement.GetProperty("messages").EnumerateArray())
        {
            roles.Add(message.GetProperty("role").GetString()!);
            var content = message.GetProperty("content");
            contents.Add(content.ValueKind == JsonValueKind.String
                ? JsonSerializer.Serialize(new[] { new Dictionary<string, string> { ["type"] = "text", ["text"] = content.GetString()! } }, ThreadJsonContext.Default.DictionaryStringStringArray)
                : content.GetRawText());
        }

        return (roles, contents);
    }
}
