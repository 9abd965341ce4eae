using System.Text.Json;
using Qlaud.Diagnostics;
using Qlaud.Forwarding;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Threads;

/// <summary>The thread service behind <see cref="IQlaudThreads"/> and the <c>/v1/threads</c> endpoints.</summary>
internal sealed class QlaudThreads(IThreadStore store, ThreadTurnEngine engine, LedgerWriter ledger, Search.SearchIndex search, TimeProvider time,
    Microsoft.Extensions.Options.IOptions<Configuration.QlaudOptions> options, Batches.BatchStore batches, Batches.BatchFiles files) : IQlaudThreads
{
    private readonly string? _summaryModel = options.Value.Threads.SummaryModel;

    /// <summary>The most metadata pairs a thread holds (OpenAI's limit).</summary>
    public const int MaxMetadataPairs = 16;

    public async Task<QlaudThread> CreateAsync(QlaudCaller caller, NewThread thread, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(thread);
        string? endUser = thread.EndUserId;
        if (!caller.SeesAccount)
        {
            if (endUser is not null && endUser != caller.EndUserId)
            {
                throw new QlaudException(new QlaudError(QlaudErrorKind.Permission,
                    "This key may create threads only for its own end user.", "end_user_mismatch"));
            }

            endUser = caller.EndUserId;
        }

        Validate(thread.Title, thread.Metadata, thread.EndUserId);
        ValidateStrategy(thread.ContextStrategy);
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var entity = new ThreadEntity
        {
            Id = ThreadIds.NewThreadId(time),
            AccountId = caller.AccountId,
            EndUserId = endUser,
            KeyId = caller.KeyId,
            Title = thread.Title,
            MetadataJson = MetadataJson(thread.Metadata),
            Model = thread.Model,
            System = thread.System,
            ContextStrategy = thread.ContextStrategy,
            CreatedAtMs = now,
            UpdatedAtMs = now,
        };
        await store.InsertThreadAsync(entity, cancellationToken).ConfigureAwait(false);
        return ToThread(entity);
    }

    public async Task<QlaudPage<QlaudThread>> ListAsync(QlaudCaller caller, ThreadListOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(options);
        ValidatePage(options);
        var page = await store.ListThreadsAsync(ThreadScope.For(caller, options.EndUserId), options, cancellationToken).ConfigureAwait(false)
            ?? throw new QlaudException(BadCursor());
        var data = page.Items.Select(ToThread).ToList();
        return new QlaudPage<QlaudThread>(data, page.HasMore, data.FirstOrDefault()?.Id, data.LastOrDefault()?.Id);
    }

    public async Task<QlaudThread?> GetAsync(QlaudCaller caller, string threadId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(threadId);
        var thread = await store.FindThreadAsync(ThreadScope.For(caller), threadId, cancellationToken).ConfigureAwait(false);
        return thread is null ? null : ToThread(thread);
    }

    public async Task<QlaudThread?> UpdateAsync(QlaudCaller caller, string threadId, ThreadChanges changes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(threadId);
        ArgumentNullException.ThrowIfNull(changes);
        Validate(changes.Title, changes.Metadata, null);
        if (changes.SetContextStrategy)
        {
            ValidateStrategy(changes.ContextStrategy);
        }

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var thread = await store.UpdateThreadAsync(ThreadScope.For(caller), threadId, t =>
        {
            if (changes.SetTitle)
            {
                t.Title = changes.Title;
            }

            if (changes.SetMetadata)
            {
                t.MetadataJson = MetadataJson(changes.Metadata);
            }

            if (changes.SetModel)
            {
                t.Model = changes.Model;
            }

            if (changes.SetSystem)
            {
                t.System = changes.System;
            }

            if (changes.SetContextStrategy)
            {
                t.ContextStrategy = changes.ContextStrategy;
            }

            t.UpdatedAtMs = now;
        }, cancellationToken).ConfigureAwait(false);
        return thread is null ? null : ToThread(thread);
    }

    public async Task<bool> DeleteAsync(QlaudCaller caller, string threadId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(threadId);
        if (!await store.DeleteThreadAsync(ThreadScope.For(caller), threadId, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        // The stored index entries went with the messages; the in-memory vectors go before the delete is answered.
        await search.ForgetThreadAsync(caller.AccountId, threadId, CancellationToken.None).ConfigureAwait(false);
        return true;
    }

    public async Task<QlaudPage<QlaudThreadMessage>?> ListMessagesAsync(QlaudCaller caller, string threadId, PageOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(threadId);
        ArgumentNullException.ThrowIfNull(options);
        ValidatePage(options);
        if (await store.FindThreadAsync(ThreadScope.For(caller), threadId, cancellationToken).ConfigureAwait(false) is null)
        {
            return null;
        }

        var page = await store.ListMessagesAsync(threadId, options, cancellationToken).ConfigureAwait(false) ?? throw new QlaudException(BadCursor());
        var data = page.Items.Select(ToMessage).ToList();
        return new QlaudPage<QlaudThreadMessage>(data, page.HasMore, data.FirstOrDefault()?.Id, data.LastOrDefault()?.Id);
    }

    public async Task<ThreadTurnResult> AppendTurnAsync(QlaudCaller caller, string threadId, ThreadTurnRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(threadId);
        ArgumentNullException.ThrowIfNull(request);
        var input = new TurnInput(caller, threadId, request.Body, request.IdempotencyKey, RequestIds.New(), AllowStream: false);
        var outcome = await engine.RunAsync(input, DiscardingSink.Instance, cancellationToken).ConfigureAwait(false);
        if (outcome.Result is { } result)
        {
            return result;
        }

        if (outcome.UpstreamAnswer is { } upstream)
        {
            throw new QlaudException(new QlaudError(upstream.Status switch
            {
                429 => QlaudErrorKind.RateLimited,
                >= 500 => QlaudErrorKind.UpstreamError,
                404 => QlaudErrorKind.NotFound,
                _ => QlaudErrorKind.InvalidRequest,
            }, $"The model's provider answered {upstream.Status}: {System.Text.Encoding.UTF8.GetString(upstream.Body.Span)}"));
        }

        throw new QlaudException(outcome.Error ?? new QlaudError(QlaudErrorKind.UpstreamError, "The turn gave no answer."));
    }

    public async Task<EndUserErasure> EraseEndUserAsync(QlaudCaller caller, string endUserId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentException.ThrowIfNullOrWhiteSpace(endUserId);
        if (!caller.SeesAccount)
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.Permission,
                "Erasing an end user needs the account's master key or an admin-scope key.", "insufficient_permissions"));
        }

        // Usage still queued for the ledger is written first, so its rows are unlinked too.
        await ledger.FlushAsync(cancellationToken).ConfigureAwait(false);
        int indexed = await search.Store.CountEndUserAsync(caller.AccountId, endUserId, cancellationToken).ConfigureAwait(false);
        var erased = await store.EraseEndUserAsync(caller.AccountId, endUserId, cancellationToken).ConfigureAwait(false);
        await search.ForgetEndUserAsync(caller.AccountId, endUserId, CancellationToken.None).ConfigureAwait(false);
        var (batchCount, fileIds) = await batches.EraseEndUserAsync(caller.AccountId, endUserId, cancellationToken).ConfigureAwait(false);
        files.DeleteContent(fileIds);
        return erased with { SearchEntriesDeleted = indexed, BatchesDeleted = batchCount, FilesDeleted = fileIds.Count };
    }

    private static void ValidatePage(PageOptions options)
    {
        if (options.Limit is < 1 or > PageOptions.MaxLimit)
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, $"'limit' must be a whole number from 1 to {PageOptions.MaxLimit}."));
        }
    }

    private static QlaudError BadCursor() => new(QlaudErrorKind.InvalidRequest, "'after' or 'before' names no item of this list.", "invalid_cursor");

    private static void Validate(string? title, IReadOnlyDictionary<string, string>? metadata, string? endUser)
    {
        string? problem = title is { Length: > 512 } ? "'title' is longer than 512 characters."
            : endUser is { Length: > 256 } ? "'end_user_id' is longer than 256 characters."
            : metadata is { Count: > MaxMetadataPairs } ? $"'metadata' holds more than {MaxMetadataPairs} pairs."
            : metadata?.Any(static p => p.Key.Length is 0 or > 64 || p.Value is null || p.Value.Length > 512) == true
                ? "'metadata' keys must be 1 to 64 characters and values strings of at most 512 characters."
                : null;
        if (problem is not null)
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, problem));
        }
    }

    private void ValidateStrategy(string? strategy)
    {
        if (ThreadTurnEngine.StrategyProblem(strategy, _summaryModel) is { } problem)
        {
            throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, problem));
        }
    }

    private static string? MetadataJson(IReadOnlyDictionary<string, string>? metadata)
        => metadata is null ? null : JsonSerializer.Serialize(metadata.ToDictionary(), ThreadJsonContext.Default.DictionaryStringString);

    private static QlaudThread ToThread(ThreadEntity t) => new(t.Id, t.EndUserId, t.Title,
        t.MetadataJson is null ? new Dictionary<string, string>() : JsonSerializer.Deserialize(t.MetadataJson, ThreadJsonContext.Default.DictionaryStringString)!,
        t.Model, t.System, t.CreatedAtMs, t.UpdatedAtMs)
    {
        ContextStrategy = t.ContextStrategy ?? ContextWindow.Truncate,
        Summary = t.Summary is { } summary ? new QlaudThreadSummary(summary, t.SummarizedMessages, t.SummaryRequestId, t.SummaryUpdatedAtMs ?? 0) : null,
    };

    private static QlaudThreadMessage ToMessage(ThreadMessageEntity m)
    {
        using var content = JsonDocument.Parse(m.ContentJson);
        return new QlaudThreadMessage(m.Id, m.ThreadId, m.Role, content.RootElement.Clone(), m.Model, m.Route, m.InputTokens, m.OutputTokens, m.CostMicros,
            m.RequestId, m.StopReason, m.Status, m.CreatedAtMs);
    }
}
