using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Catalog;
using Qlaud.Configuration;
using Qlaud.Forwarding;
using Qlaud.Metering;
using Qlaud.Providers;
using Qlaud.Routing;
using Qlaud.Storage;

namespace Qlaud.Batches;

/// <summary>
/// Runs a batch through a provider's own batch API: OpenAI (upload the JSONL input to <c>/files</c>, create <c>/batches</c>, read
/// the output and error files) or Anthropic (<c>/v1/messages/batches</c>, results from <c>/v1/messages/batches/{id}/results</c>).
/// Each request's worst case is reserved at the route's batch price before submission (requests that do not fit are not
/// submitted and come back 402), and each result's usage is reconciled into the ledger at the batch price.
/// </summary>
/// <remarks>A succeeded result without usage is never charged as zero: it is charged its worst-case estimate, counted in the
/// batch's <see cref="BatchEntity.UnpricedRequests"/> and logged as an error for the operator.</remarks>
internal sealed partial class NativeBatchRunner
{
    private readonly BatchStore _store;
    private readonly Router _router;
    private readonly ISpendGuard _spend;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _poll;
    private readonly bool _metered;

    /// <summary>Reservations held for submitted requests until their results are reconciled, by batch request row id.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, SpendReservation> _held = new();

    public NativeBatchRunner(BatchStore store, Router router, ISpendGuard spend, IHttpClientFactory httpClientFactory, TimeProvider time, IOptions<QlaudOptions> options,
        ILogger<NativeBatchRunner> logger)
    {
        _store = store;
        _router = router;
        _spend = spend;
        _http = httpClientFactory.CreateClient(Microsoft.Extensions.DependencyInjection.QlaudServiceCollectionExtensions.UpstreamHttpClient);
        _http.Timeout = TimeSpan.FromMinutes(5);
        _time = time;
        _logger = logger;
        _poll = TimeSpan.FromSeconds(options.Value.Batches.PollIntervalSeconds);
        _metered = options.Value.Metering.Enabled;
    }

    /// <summary>The route of each request when every request resolves, with no fallback, to one provider with a batch discount
    /// that speaks the batch's dialect; null otherwise (Qlaud runs the requests itself).</summary>
    public static Dictionary<long, CatalogRoute>? Plan(BatchEntity batch, IReadOnlyList<BatchRequestEntity> requests, Router router)
    {
        string dialect = batch.Endpoint == QlaudBatchEndpoint.Messages ? "anthropic" : "openai";
        var routes = new Dictionary<long, CatalogRoute>(requests.Count);
        CatalogProvider? provider = null;
        foreach (var request in requests)
        {
            if (InboundCheck.Check(request.Body, batch.Endpoint == QlaudBatchEndpoint.Embeddings, out var info, out var routing) is not null || routing is not null
                || info.Model is not { Length: > 0 } model)
            {
                return null;
            }

            var plan = router.Resolve(model);
            if (plan.Error is not null || plan.Candidates.Count == 0)
            {
                return null;
            }

            var route = plan.Candidates[0];
            if (route.BatchDiscountPercent <= 0 || route.Provider.Dialect != dialect || !route.Provider.IsAvailable || provider is not null && provider != route.Provider)
            {
                return null;
            }

            provider = route.Provider;
            routes[request.Id] = route;
        }

        return provider is null ? null : routes;
    }

    /// <summary>Reserves each request's worst case at the batch price and submits those that fit. Requests that do not fit get
    /// their 402 result at once.</summary>
    /// <returns>True when the batch was submitted (or nothing fitted, so nothing is left to run); false when the provider refused
    /// the submission (reservations released: Qlaud runs the requests itself).</returns>
    public async Task<bool> SubmitAsync(BatchEntity batch, QlaudCaller caller, IReadOnlyList<BatchRequestEntity> requests, Dictionary<long, CatalogRoute> routes,
        CancellationToken cancellationToken)
    {
        var surface = BatchRequestRunner.SurfaceOf(batch.Endpoint);
        var submitted = new List<BatchRequestEntity>(requests.Count);
        foreach (var request in requests)
        {
            var route = routes[request.Id];
            if (_metered)
            {
                WireRequestScanner.Scan(request.Body, out var info);
                var estimate = _spend.Estimate([route], _router.Catalog, SpendEstimator.EstimateInputTokens(request.Body, info, [route]), info.MaxTokens);
                estimate = estimate with { WorstCaseMicros = Discounted(estimate.WorstCaseMicros, route.BatchDiscountPercent) };
                var decision = await _spend.ReserveAsync(caller, estimate, cancellationToken).ConfigureAwait(false);
                if (decision.Reservation is not { } reservation)
                {
                    var (state, status, body) = BatchRequestRunner.Error(surface, decision.Error!);
                    await _store.SaveResultAsync(request.Id, state, status, body, null, NowMs(), CancellationToken.None).ConfigureAwait(false);
                    continue;
                }

                _held[request.Id] = reservation;
            }

            submitted.Add(request);
        }

        if (submitted.Count == 0)
        {
            return true;
        }

        var provider = routes[submitted[0].Id].Provider;
        string? nativeId;
        try
        {
            nativeId = provider.Dialect == "anthropic"
                ? await SubmitAnthropicAsync(provider, submitted, routes, cancellationToken).ConfigureAwait(false)
                : await SubmitOpenAIAsync(provider, batch.Endpoint, submitted, routes, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            Log.SubmitFailed(_logger, batch.Id, provider.Name, ex.Message);
            nativeId = null;
        }

        if (nativeId is null)
        {
            foreach (var request in submitted)
            {
                if (_held.TryRemove(request.Id, out var reservation))
                {
                    _spend.Release(reservation);
                }
            }

            return false;
        }

        await _store.SetNativeAsync(batch.Id, provider.Name, nativeId, cancellationToken).ConfigureAwait(false);
        batch.NativeProvider = provider.Name;
        batch.NativeBatchId = nativeId;
        Log.Submitted(_logger, batch.Id, provider.Name, nativeId, submitted.Count);
        return true;
    }

    /// <summary>Polls the provider until its batch ended (forwarding a cancel), then maps its results back to the requests and
    /// reconciles their usage into the ledger.</summary>
    /// <returns>How the batch ends; null when the worker is stopping (it resumes polling after the restart).</returns>
    public async Task<QlaudBatchStatus?> FollowAsync(BatchEntity batch, QlaudCaller caller, CancellationToken stopping)
    {
        var provider = _router.Catalog.Providers[batch.NativeProvider!];
        bool anthropic = provider.Dialect == "anthropic";
        bool cancelled = false;
        while (true)
        {
            string? status = await _store.StatusAsync(batch.Id, stopping).ConfigureAwait(false);
            if (status is null)
            {
                return null;
            }

            if (status == nameof(QlaudBatchStatus.Cancelling))
            {
                cancelled = true;
                if (!batch.NativeCancelSent)
                {
                    using var cancel = Request(provider, HttpMethod.Post, anthropic ? $"/v1/messages/batches/{batch.NativeBatchId}/cancel" : $"/batches/{batch.NativeBatchId}/cancel");
                    using var _ = await _http.SendAsync(cancel, stopping).ConfigureAwait(false);
                    await _store.SetNativeCancelSentAsync(batch.Id, stopping).ConfigureAwait(false);
                    batch.NativeCancelSent = true;
                }
            }

            using var poll = Request(provider, HttpMethod.Get, anthropic ? $"/v1/messages/batches/{batch.NativeBatchId}" : $"/batches/{batch.NativeBatchId}");
            using var response = await _http.SendAsync(poll, stopping).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                using var document = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(stopping).ConfigureAwait(false));
                var root = document.RootElement;
                string providerStatus = (anthropic ? root.GetProperty("processing_status") : root.GetProperty("status")).GetString() ?? "";
                bool ended = anthropic ? providerStatus == "ended" : providerStatus is "completed" or "failed" or "expired" or "cancelled";
                if (ended)
                {
                    var lines = anthropic
                        ? await GetAsync(provider, $"/v1/messages/batches/{batch.NativeBatchId}/results", stopping).ConfigureAwait(false)
                        : await OpenAIResultFilesAsync(provider, root, stopping).ConfigureAwait(false);
                    await ReconcileAsync(batch, caller, lines, anthropic, stopping).ConfigureAwait(false);
                    return cancelled || providerStatus == "cancelled" ? QlaudBatchStatus.Cancelled
                        : providerStatus == "expired" ? QlaudBatchStatus.Expired
                        : QlaudBatchStatus.Completed;
                }
            }
            else
            {
                Log.PollFailed(_logger, batch.Id, provider.Name, (int)response.StatusCode);
            }

            await Task.Delay(_poll, _time, stopping).ConfigureAwait(false);
        }
    }

    /// <summary>Maps result lines back to the requests by <c>custom_id</c>, stores each result once and charges it once.</summary>
    private async Task ReconcileAsync(BatchEntity batch, QlaudCaller caller, byte[] jsonl, bool anthropic, CancellationToken cancellationToken)
    {
        var pending = await _store.PendingAsync(batch.Id, -1, int.MaxValue, cancellationToken).ConfigureAwait(false);
        var byCustomId = pending.ToDictionary(static r => r.CustomId, StringComparer.Ordinal);
        var surface = BatchRequestRunner.SurfaceOf(batch.Endpoint);
        int unpriced = 0;
        foreach (var line in Lines(jsonl))
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (!root.TryGetProperty("custom_id", out var customIdElement) || customIdElement.GetString() is not { } customId || !byCustomId.Remove(customId, out var request))
            {
                continue;
            }

            var (state, status, body) = anthropic ? FromAnthropic(root, surface) : FromOpenAI(root, surface);
            string requestId = Qlaud.Diagnostics.RequestIds.New();
            if (!await _store.SaveResultAsync(request.Id, state, status, body, requestId, NowMs(), CancellationToken.None).ConfigureAwait(false))
            {
                continue; // already recorded (and charged) before a restart
            }

            if (state == BatchRequestState.Succeeded && !await ChargeAsync(batch, caller, request, body!, anthropic, requestId, cancellationToken).ConfigureAwait(false))
            {
                unpriced++;
            }
            else if (state != BatchRequestState.Succeeded && _held.TryRemove(request.Id, out var reservation))
            {
                _spend.Release(reservation);
            }
        }

        // Submitted requests the provider's results do not mention: errored, nothing charged.
        foreach (var request in byCustomId.Values)
        {
            var (state, status, body) = BatchRequestRunner.Error(surface, new QlaudError(QlaudErrorKind.UpstreamError,
                $"The provider '{batch.NativeProvider}' returned no result for this request.", "missing_result"));
            await _store.SaveResultAsync(request.Id, state, status, body, null, NowMs(), CancellationToken.None).ConfigureAwait(false);
            if (_held.TryRemove(request.Id, out var reservation))
            {
                _spend.Release(reservation);
            }
        }

        if (unpriced > 0)
        {
            await _store.AddUnpricedAsync(batch.Id, unpriced, CancellationToken.None).ConfigureAwait(false);
            Log.Unpriced(_logger, batch.Id, unpriced, batch.NativeProvider!);
        }
    }

    /// <summary>Charges a succeeded request its usage at the route's batch price; false when the result reported no usage
    /// (then it is charged its worst-case estimate, flagged).</summary>
    private async Task<bool> ChargeAsync(BatchEntity batch, QlaudCaller caller, BatchRequestEntity request, byte[] body, bool anthropic, string requestId, CancellationToken cancellationToken)
    {
        if (!_metered)
        {
            return true;
        }

        WireRequestScanner.Scan(request.Body, out var info);
        var route = _router.Resolve(info.Model).Candidates[0];
        var usage = UsageReader.FromResponseBody(body, anthropic);
        var estimate = _spend.Estimate([route], _router.Catalog, SpendEstimator.EstimateInputTokens(request.Body, info, [route]), info.MaxTokens);
        if (!_held.TryRemove(request.Id, out var reservation))
        {
            // Submitted before a restart: the hold died with the process; a hold of nothing lets the real cost be settled.
            var decision = await _spend.ReserveAsync(caller, new SpendEstimate(estimate.InputTokens, estimate.OutputTokens, 0), cancellationToken).ConfigureAwait(false);
            if (decision.Reservation is not { } fresh)
            {
                Log.ChargeRefused(_logger, batch.Id, request.CustomId, decision.Error?.Message ?? "");
                return true;
            }

            reservation = fresh;
        }

        var tokens = usage ?? new TokenUsage(estimate.InputTokens, estimate.OutputTokens);
        _spend.Settle(reservation, new SettledUsage(route.ModelId, route.Name, tokens, route.BatchPrice.Cost(tokens), requestId, caller.EndUserId, usage is null)
        {
            BatchId = batch.Id,
        });
        return usage is not null;
    }

    private static (BatchRequestState, int, byte[]?) FromOpenAI(JsonElement line, Dialects.IChatDialect surface)
    {
        if (line.TryGetProperty("response", out var response) && response.ValueKind == JsonValueKind.Object)
        {
            int status = response.TryGetProperty("status_code", out var code) && code.TryGetInt32(out int s) ? s : 500;
            byte[] body = Encoding.UTF8.GetBytes(response.GetProperty("body").GetRawText());
            return (status is >= 200 and < 300 ? BatchRequestState.Succeeded : BatchRequestState.Errored, status, body);
        }

        var error = line.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object ? e : default;
        string? errorCode = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("code", out var c) ? c.GetString() : null;
        if (errorCode == "batch_expired")
        {
            return (BatchRequestState.Expired, 0, null);
        }

        if (errorCode == "batch_cancelled")
        {
            return (BatchRequestState.Canceled, 0, null);
        }

        string message = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m) ? m.GetString() ?? "" : "The provider reported an error.";
        return BatchRequestRunner.Error(surface, new QlaudError(QlaudErrorKind.UpstreamError, message, errorCode));
    }

    private static (BatchRequestState, int, byte[]?) FromAnthropic(JsonElement line, Dialects.IChatDialect surface)
    {
        var result = line.GetProperty("result");
        switch (result.GetProperty("type").GetString())
        {
            case "succeeded":
                return (BatchRequestState.Succeeded, 200, Encoding.UTF8.GetBytes(result.GetProperty("message").GetRawText()));
            case "canceled":
                return (BatchRequestState.Canceled, 0, null);
            case "expired":
                return (BatchRequestState.Expired, 0, null);
            default:
                var error = result.TryGetProperty("error", out var e) ? e : default;
                string type = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("error", out var inner) && inner.TryGetProperty("type", out var t) ? t.GetString() ?? "api_error" : "api_error";
                int status = type switch
                {
                    "invalid_request_error" => 400,
                    "authentication_error" => 401,
                    "permission_error" => 403,
                    "not_found_error" => 404,
                    "request_too_large" => 413,
                    "rate_limit_error" => 429,
                    "overloaded_error" => 529,
                    _ => 500,
                };
                return error.ValueKind == JsonValueKind.Object
                    ? (BatchRequestState.Errored, status, Encoding.UTF8.GetBytes(error.GetRawText()))
                    : BatchRequestRunner.Error(surface, new QlaudError(QlaudErrorKind.UpstreamError, "The provider reported an error.") { UpstreamStatus = status });
        }
    }

    private async Task<string?> SubmitOpenAIAsync(CatalogProvider provider, string endpoint, List<BatchRequestEntity> requests, Dictionary<long, CatalogRoute> routes,
        CancellationToken cancellationToken)
    {
        var input = new ArrayBufferWriter<byte>();
        foreach (var request in requests)
        {
            using (var w = new Utf8JsonWriter(input))
            {
                w.WriteStartObject();
                w.WriteString("custom_id", request.CustomId);
                w.WriteString("method", "POST");
                w.WriteString("url", endpoint);
                w.WritePropertyName("body");
                w.WriteRawValue(WithUpstreamModel(request.Body, routes[request.Id]), skipInputValidation: true);
                w.WriteEndObject();
            }

            input.Write("\n"u8);
        }

        using var upload = Request(provider, HttpMethod.Post, "/files");
        var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(input.WrittenSpan.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("application/jsonl") } }, "file", "qlaud-batch.jsonl" },
        };
        upload.Content = form;
        using var uploaded = await _http.SendAsync(upload, cancellationToken).ConfigureAwait(false);
        if (!uploaded.IsSuccessStatusCode)
        {
            return null;
        }

        string fileId;
        using (var file = JsonDocument.Parse(await uploaded.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false)))
        {
            fileId = file.RootElement.GetProperty("id").GetString()!;
        }

        using var create = Request(provider, HttpMethod.Post, "/batches");
        create.Content = JsonContent(w =>
        {
            w.WriteStartObject();
            w.WriteString("input_file_id", fileId);
            w.WriteString("endpoint", endpoint);
            w.WriteString("completion_window", "24h");
            w.WriteEndObject();
        });
        using var created = await _http.SendAsync(create, cancellationToken).ConfigureAwait(false);
        if (!created.IsSuccessStatusCode)
        {
            return null;
        }

        using var batch = JsonDocument.Parse(await created.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        return batch.RootElement.GetProperty("id").GetString();
    }

    private async Task<string?> SubmitAnthropicAsync(CatalogProvider provider, List<BatchRequestEntity> requests, Dictionary<long, CatalogRoute> routes, CancellationToken cancellationToken)
    {
        using var create = Request(provider, HttpMethod.Post, "/v1/messages/batches");
        create.Content = JsonContent(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("requests");
            foreach (var request in requests)
            {
                w.WriteStartObject();
                w.WriteString("custom_id", request.CustomId);
                w.WritePropertyName("params");
                w.WriteRawValue(WithUpstreamModel(request.Body, routes[request.Id]), skipInputValidation: true);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
        using var created = await _http.SendAsync(create, cancellationToken).ConfigureAwait(false);
        if (!created.IsSuccessStatusCode)
        {
            return null;
        }

        using var batch = JsonDocument.Parse(await created.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        return batch.RootElement.GetProperty("id").GetString();
    }

    /// <summary>The output file's lines, then the error file's: where OpenAI puts a batch's results.</summary>
    private async Task<byte[]> OpenAIResultFilesAsync(CatalogProvider provider, JsonElement batch, CancellationToken cancellationToken)
    {
        using var all = new MemoryStream();
        foreach (string field in (string[])["output_file_id", "error_file_id"])
        {
            if (batch.TryGetProperty(field, out var id) && id.GetString() is { Length: > 0 } fileId)
            {
                byte[] content = await GetAsync(provider, $"/files/{fileId}/content", cancellationToken).ConfigureAwait(false);
                all.Write(content);
                all.WriteByte((byte)'\n');
            }
        }

        return all.ToArray();
    }

    private async Task<byte[]> GetAsync(CatalogProvider provider, string path, CancellationToken cancellationToken)
    {
        using var request = Request(provider, HttpMethod.Get, path);
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An authenticated request to <paramref name="provider"/>: <c>x-api-key</c> and <c>anthropic-version</c>, or a bearer key.</summary>
    private static HttpRequestMessage Request(CatalogProvider provider, HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, new Uri(provider.BaseUrl.AbsoluteUri.TrimEnd('/') + path));
        if (provider.Dialect == "anthropic")
        {
            if (provider.ApiKey is { } key)
            {
                request.Headers.TryAddWithoutValidation("x-api-key", key);
            }

            request.Headers.TryAddWithoutValidation("anthropic-version", UpstreamClient.DefaultAnthropicVersion);
        }
        else if (provider.ApiKey is { } key)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        foreach (var (name, value) in provider.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    private static ByteArrayContent JsonContent(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            write(w);
        }

        var content = new ByteArrayContent(buffer.WrittenSpan.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    /// <summary>The body with <c>model</c> set to the route's upstream model id.</summary>
    private static byte[] WithUpstreamModel(byte[] body, CatalogRoute route)
    {
        WireRequestScanner.Scan(body, out var info);
        using var rewritten = new PooledBufferWriter(body.Length + 64);
        WireRequestScanner.Rewrite(body, info, route.UpstreamModelJson, forceIncludeUsage: false, rewritten);
        return rewritten.WrittenSpan.ToArray();
    }

    private static IEnumerable<byte[]> Lines(byte[] jsonl)
    {
        int start = 0;
        while (start < jsonl.Length)
        {
            int end = Array.IndexOf(jsonl, (byte)'\n', start);
            if (end < 0)
            {
                end = jsonl.Length;
            }

            if (end > start && !jsonl.AsSpan(start, end - start).Trim(" \t\r"u8).IsEmpty)
            {
                yield return jsonl[start..end];
            }

            start = end + 1;
        }
    }

    private static long Discounted(long micros, decimal percent) => (long)Math.Ceiling(micros * (100m - percent) / 100m);

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Batch {BatchId} submitted to {Provider}'s batch API as {NativeBatchId}: {Requests} requests")]
        public static partial void Submitted(ILogger logger, string batchId, string provider, string nativeBatchId, int requests);

        [LoggerMessage(2, LogLevel.Warning, "Batch {BatchId} could not be submitted to {Provider}'s batch API ({Reason}); Qlaud runs its requests itself")]
        public static partial void SubmitFailed(ILogger logger, string batchId, string provider, string reason);

        [LoggerMessage(3, LogLevel.Warning, "Polling batch {BatchId} at {Provider} answered {Status}; polling again")]
        public static partial void PollFailed(ILogger logger, string batchId, string provider, int status);

        [LoggerMessage(4, LogLevel.Error, "Batch {BatchId}: {Requests} succeeded requests came back from {Provider} without usage; their cost could not be determined and they were charged their worst-case estimate")]
        public static partial void Unpriced(ILogger logger, string batchId, int requests, string provider);

        [LoggerMessage(5, LogLevel.Error, "Batch {BatchId}: request {CustomId} could not be charged after a restart: {Reason}")]
        public static partial void ChargeRefused(ILogger logger, string batchId, string customId, string reason);
    }
}
