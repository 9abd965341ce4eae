using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Routing;
using Qlaud.Storage;
using Qlaud.Threads;

namespace Qlaud.Batches;

/// <summary>The batch service behind <see cref="IQlaudBatches"/> and the batch endpoints: creation (with validation), reads,
/// cancel, delete and results; the <see cref="BatchWorker"/> runs what it creates.</summary>
internal sealed class QlaudBatches(BatchStore store, BatchFiles files, BatchWorker worker, Router router, TimeProvider time, IOptions<QlaudOptions> options) : IQlaudBatches
{
    private static readonly TimeSpan MaxWindow = TimeSpan.FromHours(24);

    private readonly int _maxRequests = options.Value.Batches.MaxRequestsPerBatch;

    public async Task<QlaudBatch> CreateAsync(QlaudCaller caller, NewBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(batch);
        string surface = batch.Surface ?? (batch.Endpoint == QlaudBatchEndpoint.Messages ? "anthropic" : "openai");
        var window = CheckCommon(batch.Endpoint, surface, batch.CompletionWindow);
        var errors = BatchInput.Check(batch.Requests, batch.Endpoint, router, _maxRequests, "requests");
        if (errors.Count > 0)
        {
            var first = errors[0];
            throw Invalid($"{(first.Param is null ? "" : first.Param + ": ")}{first.Message}");
        }

        return await InsertAsync(caller, surface, batch.Endpoint, batch.CompletionWindow, window, null, batch.Metadata, batch.Requests, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates an OpenAI batch from an uploaded input file; an input with invalid lines makes a <c>failed</c> batch that
    /// lists them (as OpenAI reports validation), nothing is run.</summary>
    /// <returns>The batch, or null when the input file is not visible to the caller.</returns>
    public async Task<QlaudBatch?> CreateFromFileAsync(QlaudCaller caller, string inputFileId, string endpoint, string completionWindow,
        IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
    {
        var window = CheckCommon(endpoint, "openai", completionWindow);
        var file = await files.FindAsync(ThreadScope.For(caller), inputFileId, cancellationToken).ConfigureAwait(false);
        if (file is null)
        {
            return null;
        }

        if (file.Purpose != "batch")
        {
            throw Invalid($"The file '{inputFileId}' has purpose '{file.Purpose}'; a batch's input file needs purpose 'batch'.");
        }

        byte[] content = await files.ReadAllAsync(file.Id, cancellationToken).ConfigureAwait(false);
        var (requests, errors) = BatchInput.ParseJsonl(content, endpoint, router, _maxRequests);
        return errors.Count > 0
            ? await InsertAsync(caller, "openai", endpoint, completionWindow, window, inputFileId, metadata, [], cancellationToken, errors).ConfigureAwait(false)
            : await InsertAsync(caller, "openai", endpoint, completionWindow, window, inputFileId, metadata, requests, cancellationToken).ConfigureAwait(false);
    }

    public async Task<QlaudBatch?> GetAsync(QlaudCaller caller, string batchId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var entity = await store.FindAsync(ThreadScope.For(caller), batchId, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : await ViewAsync(entity, cancellationToken).ConfigureAwait(false);
    }

    public async Task<QlaudPage<QlaudBatch>?> ListAsync(QlaudCaller caller, string surface, PageOptions page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(page);
        var listed = await store.ListAsync(ThreadScope.For(caller), surface, page, cancellationToken).ConfigureAwait(false);
        if (listed is not { } result)
        {
            return null;
        }

        var views = new List<QlaudBatch>(result.Rows.Count);
        foreach (var row in result.Rows)
        {
            views.Add(await ViewAsync(row, cancellationToken).ConfigureAwait(false));
        }

        return new QlaudPage<QlaudBatch>(views, result.HasMore, views.Count > 0 ? views[0].Id : null, views.Count > 0 ? views[^1].Id : null);
    }

    public async Task<QlaudBatch?> CancelAsync(QlaudCaller caller, string batchId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var entity = await store.FindAsync(ThreadScope.For(caller), batchId, cancellationToken).ConfigureAwait(false);
        if (entity is null)
        {
            return null;
        }

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (await store.TransitionAsync(batchId, [QlaudBatchStatus.Validating, QlaudBatchStatus.InProgress], QlaudBatchStatus.Cancelling, b => b.CancellingAtMs = now, cancellationToken)
            .ConfigureAwait(false))
        {
            worker.Changed(batchId);
        }

        return await GetAsync(caller, batchId, cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> DeleteAsync(QlaudCaller caller, string batchId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var batch = await GetAsync(caller, batchId, cancellationToken).ConfigureAwait(false);
        if (batch is null)
        {
            return false;
        }

        if (!batch.IsEnded)
        {
            throw Invalid($"The batch '{batchId}' is still processing; cancel it and wait for it to end before deleting it.");
        }

        await store.DeleteAsync(batchId, cancellationToken).ConfigureAwait(false);

        // The result files Qlaud wrote go with the batch (an OpenAI batch's output and error files); its input file is the caller's.
        foreach (var fileId in (string?[])[batch.OutputFileId, batch.ErrorFileId])
        {
            if (fileId is not null)
            {
                await files.DeleteAsync(ThreadScope.For(caller), fileId, cancellationToken).ConfigureAwait(false);
            }
        }

        return true;
    }

    public async IAsyncEnumerable<QlaudBatchResult> ResultsAsync(QlaudCaller caller, string batchId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (await store.FindAsync(ThreadScope.For(caller), batchId, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new QlaudException(NotFound(batchId));
        }

        var returned = new HashSet<int>();
        while (true)
        {
            var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void Handler(string id)
            {
                if (id == batchId)
                {
                    stored.TrySetResult();
                }
            }

            worker.ResultStored += Handler;
            try
            {
                // The status is read before the results: once it says ended, every result is stored.
                string? status = await store.StatusAsync(batchId, cancellationToken).ConfigureAwait(false);
                bool ended = status is null or nameof(QlaudBatchStatus.Completed) or nameof(QlaudBatchStatus.Failed) or nameof(QlaudBatchStatus.Expired)
                    or nameof(QlaudBatchStatus.Cancelled);
                int cursor = -1;
                while (true)
                {
                    var page = await store.FinishedAsync(batchId, cursor, 500, cancellationToken).ConfigureAwait(false);
                    if (page.Count == 0)
                    {
                        break;
                    }

                    foreach (var row in page)
                    {
                        cursor = row.Index;
                        if (returned.Add(row.Index))
                        {
                            yield return ToResult(row);
                        }
                    }
                }

                if (ended)
                {
                    yield break;
                }

                // Woken by the worker when a result of this batch is stored; a poll covers results stored by another node.
                await Task.WhenAny(stored.Task, Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }
            finally
            {
                worker.ResultStored -= Handler;
            }
        }
    }

    /// <summary>The results of an ended batch as Anthropic's JSONL results lines.</summary>
    public async Task<byte[]> AnthropicResultsAsync(QlaudCaller caller, string batchId, CancellationToken cancellationToken)
    {
        var output = new ArrayBufferWriter<byte>();
        await foreach (var result in ResultsAsync(caller, batchId, cancellationToken).ConfigureAwait(false))
        {
            BatchResultLines.WriteAnthropic(output, result);
        }

        return output.WrittenSpan.ToArray();
    }

    /// <summary>The 404 of a batch that does not exist or is not the caller's.</summary>
    public static QlaudError NotFound(string batchId) => new(QlaudErrorKind.NotFound, $"No batch with id '{batchId}' exists.", "not_found");

    private static QlaudBatchResult ToResult(BatchRequestEntity row)
        => new(row.CustomId, row.Index, Enum.Parse<BatchRequestState>(row.State), row.StatusCode, row.ResponseBody, row.RequestId);

    private static TimeSpan CheckCommon(string endpoint, string surface, string completionWindow)
    {
        if (!QlaudBatchEndpoint.IsSupported(endpoint))
        {
            throw Invalid($"'endpoint' must be one of {QlaudBatchEndpoint.ChatCompletions}, {QlaudBatchEndpoint.Embeddings}, {QlaudBatchEndpoint.Messages}.");
        }

        if (surface is not ("openai" or "anthropic"))
        {
            throw Invalid("The batch surface must be 'openai' or 'anthropic'.");
        }

        return TryParseWindow(completionWindow, out var window)
            ? window
            : throw Invalid("'completion_window' must be a duration such as \"24h\", \"30m\" or \"90s\", at most 24h.");
    }

    /// <summary>Parses <c>{n}h</c>, <c>{n}m</c> or <c>{n}s</c> between 1 s and 24 h.</summary>
    public static bool TryParseWindow(string? text, out TimeSpan window)
    {
        window = default;
        if (text is not { Length: >= 2 } || !int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
        {
            return false;
        }

        window = text[^1] switch
        {
            'h' => TimeSpan.FromHours(n),
            'm' => TimeSpan.FromMinutes(n),
            's' => TimeSpan.FromSeconds(n),
            _ => TimeSpan.Zero,
        };
        return window > TimeSpan.Zero && window <= MaxWindow;
    }

    private async Task<QlaudBatch> InsertAsync(QlaudCaller caller, string surface, string endpoint, string completionWindow, TimeSpan window, string? inputFileId,
        IReadOnlyDictionary<string, string>? metadata, IReadOnlyList<BatchRequestInput> requests, CancellationToken cancellationToken, List<QlaudBatchError>? errors = null)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var entity = new BatchEntity
        {
            Id = ThreadIds.New(surface == "anthropic" ? "msgbatch_" : "batch_", time),
            Surface = surface,
            Endpoint = endpoint,
            AccountId = caller.AccountId,
            KeyId = caller.KeyId,
            EndUserId = caller.EndUserId,
            CallerIsMaster = caller.IsMaster,
            CallerIsAdmin = caller.IsAdminScope,
            Status = (errors is { Count: > 0 } ? QlaudBatchStatus.Failed : QlaudBatchStatus.Validating).ToString(),
            InputFileId = inputFileId,
            CompletionWindow = completionWindow,
            MetadataJson = metadata is null ? null : WriteMetadata(metadata),
            ErrorsJson = errors is { Count: > 0 } ? WriteErrors(errors) : null,
            RequestCount = requests.Count,
            CreatedAtMs = now,
            ExpiresAtMs = now + (long)window.TotalMilliseconds,
            FailedAtMs = errors is { Count: > 0 } ? now : null,
        };
        await store.InsertAsync(entity, requests, cancellationToken).ConfigureAwait(false);
        if (errors is not { Count: > 0 })
        {
            worker.Wake();
        }

        return await ViewAsync(entity, cancellationToken).ConfigureAwait(false);
    }

    private async Task<QlaudBatch> ViewAsync(BatchEntity entity, CancellationToken cancellationToken) => new()
    {
        Id = entity.Id,
        Surface = entity.Surface,
        Endpoint = entity.Endpoint,
        Status = Enum.Parse<QlaudBatchStatus>(entity.Status),
        RequestCounts = await store.CountsAsync(entity.Id, cancellationToken).ConfigureAwait(false),
        InputFileId = entity.InputFileId,
        OutputFileId = entity.OutputFileId,
        ErrorFileId = entity.ErrorFileId,
        CompletionWindow = entity.CompletionWindow,
        Metadata = entity.MetadataJson is null ? null : ReadMetadata(entity.MetadataJson),
        Errors = entity.ErrorsJson is null ? null : ReadErrors(entity.ErrorsJson),
        EndUserId = entity.EndUserId,
        NativeProvider = entity.NativeProvider,
        UnpricedRequests = entity.UnpricedRequests,
        CreatedAtMs = entity.CreatedAtMs,
        ExpiresAtMs = entity.ExpiresAtMs,
        InProgressAtMs = entity.InProgressAtMs,
        FinalizingAtMs = entity.FinalizingAtMs,
        CompletedAtMs = entity.CompletedAtMs,
        FailedAtMs = entity.FailedAtMs,
        ExpiredAtMs = entity.ExpiredAtMs,
        CancellingAtMs = entity.CancellingAtMs,
        CancelledAtMs = entity.CancelledAtMs,
    };

    private static string WriteMetadata(IReadOnlyDictionary<string, string> metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var (key, value) in metadata)
            {
                w.WriteString(key, value);
            }

            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static Dictionary<string, string> ReadMetadata(string json)
    {
        using var document = JsonDocument.Parse(json);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            metadata[property.Name] = property.Value.GetString() ?? "";
        }

        return metadata;
    }

    private static string WriteErrors(List<QlaudBatchError> errors)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            foreach (var error in errors)
            {
                error.WriteTo(w);
            }

            w.WriteEndArray();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static List<QlaudBatchError> ReadErrors(string json)
    {
        using var document = JsonDocument.Parse(json);
        var errors = new List<QlaudBatchError>();
        foreach (var e in document.RootElement.EnumerateArray())
        {
            errors.Add(new QlaudBatchError(e.GetProperty("code").GetString()!, e.GetProperty("message").GetString()!,
                e.GetProperty("param").GetString(), e.GetProperty("line").ValueKind == JsonValueKind.Number ? e.GetProperty("line").GetInt32() : null));
        }

        return errors;
    }

    private static QlaudException Invalid(string message) => new(new QlaudError(QlaudErrorKind.InvalidRequest, message));
}
