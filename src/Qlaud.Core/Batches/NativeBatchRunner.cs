using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
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

    /// <summary>The OpenAI batch <c>metadata</c> keys Qlaud sets: its batch id and the submission marker's token.</summary>
    private const string MetadataBatchId = "qlaud_batch_id", MetadataSubmission = "qlaud_submission";

    /// <summary>How far before the submission marker a provider batch's creation time may be and still be this submission's
    /// (the provider's clock and this process's may differ).</summary>
    private const long MarkerSkewMs = 5 * 60 * 1000;

    /// <summary>Pages of 100 provider batches looked through for an earlier submission.</summary>
    private const int MaxLookupPages = 50;

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
    /// their 402 result at once. Before the provider is called, the submission marker (a fresh token) is stored, so a crash
    /// between the provider's acceptance and Qlaud recording the provider's batch id is resolved by <see cref="ResumeAsync"/>
    /// instead of a second submission.</summary>
    public async Task<NativeSubmission> SubmitAsync(BatchEntity batch, QlaudCaller caller, IReadOnlyList<BatchRequestEntity> requests, Dictionary<long, CatalogRoute> routes,
        CancellationToken cancellationToken)
    {
        var surface = BatchRequestRunner.SurfaceOf(batch.Endpoint);
        var submitted = new List<BatchRequestEntity>(requests.Count);
        foreach (var request in requests)
        {
            var route = routes[request.Id];
            if (_metered && !_held.ContainsKey(request.Id))
            {
                var decision = await ReserveAsync(caller, request, route, cancellationToken).ConfigureAwait(false);
                if (decision.Reservation is not { } reservation)
                {
                    var (state, status, body) = BatchRequestRunner.Error(surface, decision.Error!);
                    await _store.SaveResultAsync(request.Id, state, status, body, null, NowMs(), CancellationToken.None).ConfigureAwait(false);
                    continue;
                }

                Hold(request.Id, reservation);
            }

            submitted.Add(request);
        }

        if (submitted.Count == 0)
        {
            return NativeSubmission.Local; // nothing fitted: every request has its result
        }

        var provider = routes[submitted[0].Id].Provider;
        string token = batch.Id + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        long markedAt = NowMs();
        await _store.SetNativeSubmittingAsync(batch.Id, provider.Name, token, markedAt, cancellationToken).ConfigureAwait(false);
        batch.NativeProvider = provider.Name;
        batch.NativeSubmitToken = token;
        batch.NativeSubmittingAtMs = markedAt;

        Created created;
        try
        {
            created = provider.Dialect == "anthropic"
                ? await SubmitAnthropicAsync(provider, submitted, routes, cancellationToken).ConfigureAwait(false)
                : await SubmitOpenAIAsync(provider, batch, submitted, routes, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError is HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError)
        {
            // No connection to the provider was made: it cannot have taken the batch.
            created = new Created(null, true, 0);
            Log.SubmitFailed(_logger, batch.Id, provider.Name, ex.Message);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or KeyNotFoundException
            || ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // The provider may have taken the batch (a timeout, a connection cut after the request went out): the marker stays
            // and the next run looks for it before submitting again.
            Log.SubmitUncertain(_logger, batch.Id, provider.Name, ex.Message);
            return NativeSubmission.Unresolved;
        }

        if (created.Id is null && created.Refused)
        {
            if (created.Status != 0)
            {
                Log.SubmitFailed(_logger, batch.Id, provider.Name, $"HTTP {created.Status}");
            }

            await GiveUpNativeAsync(batch, submitted).ConfigureAwait(false);
            return NativeSubmission.Local;
        }

        if (created.Id is not { } nativeId)
        {
            Log.SubmitUncertain(_logger, batch.Id, provider.Name, $"HTTP {created.Status}");
            return NativeSubmission.Unresolved;
        }

        await _store.SetNativeAsync(batch.Id, provider.Name, nativeId, CancellationToken.None).ConfigureAwait(false);
        batch.NativeBatchId = nativeId;
        Log.Submitted(_logger, batch.Id, provider.Name, nativeId, submitted.Count);
        return NativeSubmission.Submitted;
    }

    /// <summary>Resolves a submission marker without a provider batch id (the process stopped, or the provider's answer was
    /// lost, after the marker was written): the provider batch carrying the marker's token is adopted (OpenAI: its
    /// <c>metadata</c>; Anthropic, which keeps no metadata on message batches: the one batch created since the marker with as
    /// many requests that no other Qlaud batch recorded). When the provider has none, the batch is submitted again; when it
    /// cannot be told which is ours, nothing is submitted again and the requests get an error result.</summary>
    public async Task<NativeSubmission> ResumeAsync(BatchEntity batch, QlaudCaller caller, CancellationToken cancellationToken)
    {
        var pending = await _store.PendingAsync(batch.Id, -1, int.MaxValue, cancellationToken).ConfigureAwait(false);
        if (!_router.Catalog.Providers.TryGetValue(batch.NativeProvider!, out var provider))
        {
            await AbandonAsync(batch, pending, $"the provider '{batch.NativeProvider}' is no longer configured").ConfigureAwait(false);
            return NativeSubmission.Abandoned;
        }

        await EnsureHeldAsync(batch, caller, pending, cancellationToken).ConfigureAwait(false);
        bool anthropic = provider.Dialect == "anthropic";
        var lookup = anthropic
            ? await FindAnthropicAsync(provider, batch, pending.Count, cancellationToken).ConfigureAwait(false)
            : await FindOpenAIAsync(provider, batch, cancellationToken).ConfigureAwait(false);
        switch (lookup.Kind)
        {
            case LookupKind.Found:
                await _store.SetNativeAsync(batch.Id, provider.Name, lookup.Id!, CancellationToken.None).ConfigureAwait(false);
                batch.NativeBatchId = lookup.Id;
                Log.Adopted(_logger, batch.Id, provider.Name, lookup.Id!);
                return NativeSubmission.Submitted;
            case LookupKind.Unreachable:
                Log.LookupFailed(_logger, batch.Id, provider.Name, lookup.Reason);
                return NativeSubmission.Unresolved;
            case LookupKind.Ambiguous:
                await AbandonAsync(batch, pending, lookup.Reason).ConfigureAwait(false);
                return NativeSubmission.Abandoned;
        }

        // The provider has no batch from the marked submission: it never took it, so submitting it now spends nothing twice.
        Log.NotAtProvider(_logger, batch.Id, provider.Name);
        if (!anthropic)
        {
            await DeleteOrphanUploadAsync(provider, batch, cancellationToken).ConfigureAwait(false);
        }

        if (pending.Count > 0 && batch.Status == nameof(QlaudBatchStatus.InProgress) && Plan(batch, pending, _router) is { } routes)
        {
            return await SubmitAsync(batch, caller, pending, routes, cancellationToken).ConfigureAwait(false);
        }

        await GiveUpNativeAsync(batch, pending).ConfigureAwait(false);
        return NativeSubmission.Local;
    }

    /// <summary>Holds the worst case, at the batch price, of every request of a batch in flight at a provider that this process
    /// holds nothing for yet: after a restart (the holds died with the process) or when this instance takes the batch over.</summary>
    /// <returns>How many requests got a hold now.</returns>
    public async Task<int> EnsureHeldAsync(BatchEntity batch, QlaudCaller caller, IReadOnlyList<BatchRequestEntity> pending, CancellationToken cancellationToken)
    {
        if (!_metered)
        {
            return 0;
        }

        int held = 0, refused = 0;
        foreach (var request in pending)
        {
            if (_held.ContainsKey(request.Id))
            {
                continue;
            }

            WireRequestScanner.Scan(request.Body, out var info);
            var plan = _router.Resolve(info.Model);
            if (plan.Error is not null || plan.Candidates.Count == 0)
            {
                continue;
            }

            var decision = await ReserveAsync(caller, request, plan.Candidates[0], cancellationToken).ConfigureAwait(false);
            if (decision.Reservation is { } reservation)
            {
                Hold(request.Id, reservation);
                held++;
            }
            else
            {
                refused++;
            }
        }

        if (refused > 0)
        {
            Log.HoldRefused(_logger, batch.Id, refused);
        }

        return held;
    }

    /// <summary>Holds again, before the worker resumes, the worst case of every request still in flight at a provider's batch
    /// API (single-process storage; with shared storage the instance that takes a batch over holds it).</summary>
    public async Task RestoreHoldsAsync(CancellationToken cancellationToken)
    {
        if (!_metered)
        {
            return;
        }

        int batches = 0, requests = 0;
        foreach (var batch in await _store.InFlightNativeAsync(cancellationToken).ConfigureAwait(false))
        {
            var pending = await _store.PendingAsync(batch.Id, -1, int.MaxValue, cancellationToken).ConfigureAwait(false);
            int held = await EnsureHeldAsync(batch, CallerOf(batch), pending, cancellationToken).ConfigureAwait(false);
            if (held > 0)
            {
                batches++;
                requests += held;
            }
        }

        if (batches > 0)
        {
            Log.HoldsRestored(_logger, requests, batches);
        }
    }

    /// <summary>The caller a batch's requests run as: the key that submitted it.</summary>
    public static QlaudCaller CallerOf(BatchEntity batch)
        => new(batch.AccountId, batch.KeyId, batch.EndUserId, batch.CallerIsMaster) { IsAdminScope = batch.CallerIsAdmin };

    /// <summary>Polls the provider until its batch ended (forwarding a cancel), then maps its results back to the requests and
    /// reconciles their usage into the ledger.</summary>
    /// <returns>How the batch ends; null when the worker is stopping (it resumes polling after the restart).</returns>
    public async Task<QlaudBatchStatus?> FollowAsync(BatchEntity batch, QlaudCaller caller, CancellationToken stopping)
    {
        var provider = _router.Catalog.Providers[batch.NativeProvider!];
        bool anthropic = provider.Dialect == "anthropic";
        bool cancelled = false;
        await EnsureHeldAsync(batch, caller, await _store.PendingAsync(batch.Id, -1, int.MaxValue, stopping).ConfigureAwait(false), stopping).ConfigureAwait(false);
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
                    if (!anthropic)
                    {
                        // Every result is stored: the files Qlaud uploaded and the provider wrote are of no further use there.
                        await DeleteFilesAsync(provider, batch.Id, [.. FileIds(root)]).ConfigureAwait(false);
                    }

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
            // No hold (its worst case did not fit when it was held again after a restart): a hold of nothing lets the real
            // cost be settled, up to what the key's cap and the wallet still allow (any excess is written off and logged).
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

    private async Task<Created> SubmitOpenAIAsync(CatalogProvider provider, BatchEntity qlaudBatch, List<BatchRequestEntity> requests, Dictionary<long, CatalogRoute> routes,
        CancellationToken cancellationToken)
    {
        string endpoint = qlaudBatch.Endpoint;
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
            { new ByteArrayContent(input.WrittenSpan.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("application/jsonl") } }, "file", UploadName(qlaudBatch.NativeSubmitToken!) },
        };
        upload.Content = form;
        using var uploaded = await _http.SendAsync(upload, cancellationToken).ConfigureAwait(false);
        if (!uploaded.IsSuccessStatusCode)
        {
            return new Created(null, true, (int)uploaded.StatusCode); // no batch exists without its input file
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
            w.WriteStartObject("metadata");
            w.WriteString(MetadataBatchId, qlaudBatch.Id);
            w.WriteString(MetadataSubmission, qlaudBatch.NativeSubmitToken);
            w.WriteEndObject();
            w.WriteEndObject();
        });
        var created = await CreatedAsync(create, cancellationToken).ConfigureAwait(false);
        if (created.Id is null && created.Refused)
        {
            await DeleteFilesAsync(provider, qlaudBatch.Id, [fileId]).ConfigureAwait(false); // no batch will read it
        }

        return created;
    }

    /// <summary>The file name of a submission's uploaded input: it carries the submission's token, so an upload whose batch was
    /// never created (the process stopped, or the provider's answer was lost, in between) can be found and deleted.</summary>
    private static string UploadName(string token) => $"qlaud-{token}.jsonl";

    /// <summary>Deletes the input file the marked submission uploaded, if the provider has it: its batch was never created.
    /// Looks through the provider's batch files newest first, as far as the marker's time; a failure is logged and left.</summary>
    private async Task DeleteOrphanUploadAsync(CatalogProvider provider, BatchEntity batch, CancellationToken cancellationToken)
    {
        string name = UploadName(batch.NativeSubmitToken!);
        long sinceSeconds = (batch.NativeSubmittingAtMs!.Value - MarkerSkewMs) / 1000;
        var orphans = new List<string>();
        string? after = null;
        try
        {
            for (int page = 0; page < MaxLookupPages; page++)
            {
                using var list = Request(provider, HttpMethod.Get, "/files?purpose=batch&order=desc&limit=100" + (after is null ? "" : "&after=" + Uri.EscapeDataString(after)));
                using var response = await _http.SendAsync(list, cancellationToken).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    Log.FileNotDeleted(_logger, batch.Id, name, provider.Name, $"listing files answered HTTP {(int)response.StatusCode}");
                    return;
                }

                using var document = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
                var root = document.RootElement;
                bool older = false;
                foreach (var item in root.GetProperty("data").EnumerateArray())
                {
                    if (item.TryGetProperty("filename", out var filename) && filename.ValueKind == JsonValueKind.String && filename.ValueEquals(name)
                        && item.GetProperty("id").GetString() is { } id)
                    {
                        orphans.Add(id);
                    }

                    older |= item.TryGetProperty("created_at", out var created) && created.TryGetInt64(out long at) && at < sinceSeconds;
                }

                after = root.TryGetProperty("last_id", out var last) && last.ValueKind == JsonValueKind.String ? last.GetString() : null;
                if (older || after is null || !root.TryGetProperty("has_more", out var more) || !more.GetBoolean())
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            Log.FileNotDeleted(_logger, batch.Id, name, provider.Name, ex.Message);
            return;
        }

        await DeleteFilesAsync(provider, batch.Id, orphans).ConfigureAwait(false);
    }

    /// <summary>The ids of a finished OpenAI batch's files: its input, output and error files.</summary>
    private static IEnumerable<string> FileIds(JsonElement batch)
    {
        foreach (string field in (string[])["input_file_id", "output_file_id", "error_file_id"])
        {
            if (batch.TryGetProperty(field, out var id) && id.ValueKind == JsonValueKind.String && id.GetString() is { Length: > 0 } fileId)
            {
                yield return fileId;
            }
        }
    }

    /// <summary>Deletes files at the provider (<c>DELETE /files/{id}</c>). A file that cannot be deleted is logged and left: it
    /// costs the operator storage at the provider, never a result.</summary>
    private async Task DeleteFilesAsync(CatalogProvider provider, string batchId, IReadOnlyList<string> fileIds)
    {
        foreach (string fileId in fileIds)
        {
            try
            {
                using var delete = Request(provider, HttpMethod.Delete, $"/files/{Uri.EscapeDataString(fileId)}");
                using var response = await _http.SendAsync(delete, CancellationToken.None).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode && response.StatusCode != System.Net.HttpStatusCode.NotFound)
                {
                    Log.FileNotDeleted(_logger, batchId, fileId, provider.Name, $"HTTP {(int)response.StatusCode}");
                }
            }
            catch (HttpRequestException ex)
            {
                Log.FileNotDeleted(_logger, batchId, fileId, provider.Name, ex.Message);
            }
        }
    }

    private async Task<Created> SubmitAnthropicAsync(CatalogProvider provider, List<BatchRequestEntity> requests, Dictionary<long, CatalogRoute> routes, CancellationToken cancellationToken)
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
        return await CreatedAsync(create, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a batch-create request. A 4xx answer (other than a timeout) says the provider did not take the batch;
    /// a 5xx or a timeout does not say, and is resolved by looking for the batch.</summary>
    private async Task<Created> CreatedAsync(HttpRequestMessage create, CancellationToken cancellationToken)
    {
        using var created = await _http.SendAsync(create, cancellationToken).ConfigureAwait(false);
        int status = (int)created.StatusCode;
        if (!created.IsSuccessStatusCode)
        {
            return new Created(null, status is >= 400 and < 500 and not 408, status);
        }

        using var batch = JsonDocument.Parse(await created.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        return new Created(batch.RootElement.GetProperty("id").GetString(), false, status);
    }

    /// <summary>The provider batch whose <c>metadata</c> carries the marker's token, among OpenAI batches created since the marker
    /// (the list is newest first).</summary>
    private async Task<Lookup> FindOpenAIAsync(CatalogProvider provider, BatchEntity batch, CancellationToken cancellationToken)
    {
        long sinceSeconds = (batch.NativeSubmittingAtMs!.Value - MarkerSkewMs) / 1000;
        string? after = null;
        for (int page = 0; page < MaxLookupPages; page++)
        {
            using var list = Request(provider, HttpMethod.Get, "/batches?limit=100" + (after is null ? "" : "&after=" + Uri.EscapeDataString(after)));
            using var response = await _http.SendAsync(list, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return new Lookup(LookupKind.Unreachable, null, $"listing batches answered HTTP {(int)response.StatusCode}");
            }

            using var document = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            var root = document.RootElement;
            bool older = false;
            foreach (var item in root.GetProperty("data").EnumerateArray())
            {
                if (item.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object
                    && metadata.TryGetProperty(MetadataSubmission, out var token) && token.ValueKind == JsonValueKind.String && token.ValueEquals(batch.NativeSubmitToken))
                {
                    return new Lookup(LookupKind.Found, item.GetProperty("id").GetString(), "");
                }

                older |= item.TryGetProperty("created_at", out var created) && created.TryGetInt64(out long at) && at < sinceSeconds;
            }

            if (older || !root.TryGetProperty("has_more", out var more) || !more.GetBoolean() || root.GetProperty("data").GetArrayLength() == 0)
            {
                return new Lookup(LookupKind.None, null, "");
            }

            after = root.TryGetProperty("last_id", out var last) ? last.GetString() : null;
            if (after is null)
            {
                return new Lookup(LookupKind.None, null, "");
            }
        }

        return new Lookup(LookupKind.Ambiguous, null, $"more than {MaxLookupPages * 100} batches at the provider were created since the submission; the one carrying its token could not be looked for");
    }

    /// <summary>Anthropic's message batches keep no metadata: the candidates are the batches created since the marker (less
    /// <see cref="MarkerSkewMs"/> for the clocks) with as many requests, less those other Qlaud batches recorded as theirs.</summary>
    private async Task<Lookup> FindAnthropicAsync(CatalogProvider provider, BatchEntity batch, int requests, CancellationToken cancellationToken)
    {
        long sinceMs = batch.NativeSubmittingAtMs!.Value - MarkerSkewMs;
        var candidates = new List<string>();
        string? after = null;
        for (int page = 0; ; page++)
        {
            if (page == MaxLookupPages)
            {
                return new Lookup(LookupKind.Ambiguous, null, $"more than {MaxLookupPages * 100} message batches at the provider were created since the submission");
            }

            using var list = Request(provider, HttpMethod.Get, "/v1/messages/batches?limit=100" + (after is null ? "" : "&after_id=" + Uri.EscapeDataString(after)));
            using var response = await _http.SendAsync(list, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return new Lookup(LookupKind.Unreachable, null, $"listing message batches answered HTTP {(int)response.StatusCode}");
            }

            using var document = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            var root = document.RootElement;
            bool older = false;
            foreach (var item in root.GetProperty("data").EnumerateArray())
            {
                if (item.TryGetProperty("created_at", out var created) && created.ValueKind == JsonValueKind.String
                    && DateTimeOffset.TryParse(created.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && at.ToUnixTimeMilliseconds() < sinceMs)
                {
                    older = true;
                    break;
                }

                long total = 0;
                if (item.TryGetProperty("request_counts", out var counts) && counts.ValueKind == JsonValueKind.Object)
                {
                    foreach (var count in counts.EnumerateObject())
                    {
                        total += count.Value.TryGetInt64(out long n) ? n : 0;
                    }
                }

                if (total == requests && item.GetProperty("id").GetString() is { } id)
                {
                    candidates.Add(id);
                }
            }

            after = root.TryGetProperty("last_id", out var last) ? last.GetString() : null;
            if (older || !root.TryGetProperty("has_more", out var more) || !more.GetBoolean() || after is null)
            {
                break;
            }
        }

        if (candidates.Count > 0)
        {
            var known = await _store.KnownNativeIdsAsync(provider.Name, candidates, cancellationToken).ConfigureAwait(false);
            candidates.RemoveAll(known.Contains);
        }

        return candidates.Count switch
        {
            0 => new Lookup(LookupKind.None, null, ""),
            1 => new Lookup(LookupKind.Found, candidates[0], ""),
            _ => new Lookup(LookupKind.Ambiguous, null,
                $"{candidates.Count} message batches with {requests} requests were created at the provider since the submission ({string.Join(", ", candidates)}) and Anthropic's message batches carry no token to tell which is this one's"),
        };
    }

    private ValueTask<SpendDecision> ReserveAsync(QlaudCaller caller, BatchRequestEntity request, CatalogRoute route, CancellationToken cancellationToken)
    {
        WireRequestScanner.Scan(request.Body, out var info);
        var estimate = _spend.Estimate([route], _router.Catalog, SpendEstimator.EstimateInputTokens(request.Body, info, [route]), info.MaxTokens);
        estimate = estimate with { WorstCaseMicros = Discounted(estimate.WorstCaseMicros, route.BatchDiscountPercent) };
        return _spend.ReserveAsync(caller, estimate, cancellationToken);
    }

    private void Hold(long requestRowId, SpendReservation reservation)
    {
        if (!_held.TryAdd(requestRowId, reservation))
        {
            _spend.Release(reservation);
        }
    }

    private void ReleaseHolds(IEnumerable<BatchRequestEntity> requests)
    {
        foreach (var request in requests)
        {
            if (_held.TryRemove(request.Id, out var reservation))
            {
                _spend.Release(reservation);
            }
        }
    }

    /// <summary>The provider did not take the batch: its holds are released and its marker removed (Qlaud runs it itself).</summary>
    private async Task GiveUpNativeAsync(BatchEntity batch, IEnumerable<BatchRequestEntity> requests)
    {
        ReleaseHolds(requests);
        await _store.ClearNativeSubmittingAsync(batch.Id, CancellationToken.None).ConfigureAwait(false);
        batch.NativeProvider = null;
        batch.NativeSubmitToken = null;
        batch.NativeSubmittingAtMs = null;
    }

    /// <summary>Ends the requests of a submission that cannot safely be resolved with an error result (nothing charged, nothing
    /// submitted again) and tells the operator which provider batches to check.</summary>
    private async Task AbandonAsync(BatchEntity batch, IReadOnlyList<BatchRequestEntity> pending, string reason)
    {
        Log.Abandoned(_logger, batch.Id, batch.NativeProvider ?? "", reason);
        var surface = BatchRequestRunner.SurfaceOf(batch.Endpoint);
        var (state, status, body) = BatchRequestRunner.Error(surface, new QlaudError(QlaudErrorKind.UpstreamError,
            $"Qlaud stopped after submitting this batch to '{batch.NativeProvider}' and cannot tell whether the provider took it ({reason}). " +
            "It was not submitted again, to avoid paying for it twice; the operator's log names the provider batches to check.", "native_submission_unknown"));
        foreach (var request in pending)
        {
            await _store.SaveResultAsync(request.Id, state, status, body, null, NowMs(), CancellationToken.None).ConfigureAwait(false);
        }

        ReleaseHolds(pending);
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

    /// <summary>A batch-create answer: the provider's batch id, or whether the provider said it did not take the batch.</summary>
    private readonly record struct Created(string? Id, bool Refused, int Status);

    private enum LookupKind
    {
        None,
        Found,
        Ambiguous,
        Unreachable,
    }

    private readonly record struct Lookup(LookupKind Kind, string? Id, string Reason);

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

        [LoggerMessage(6, LogLevel.Warning, "Batch {BatchId}: whether {Provider}'s batch API took the submission is not known ({Reason}); it is looked for there before anything is submitted again")]
        public static partial void SubmitUncertain(ILogger logger, string batchId, string provider, string reason);

        [LoggerMessage(7, LogLevel.Information, "Batch {BatchId}: the submission marked before the restart was found at {Provider} as {NativeBatchId} and is followed there, not submitted again")]
        public static partial void Adopted(ILogger logger, string batchId, string provider, string nativeBatchId);

        [LoggerMessage(8, LogLevel.Information, "Batch {BatchId}: {Provider} has no batch from the submission marked before the restart; it never took it")]
        public static partial void NotAtProvider(ILogger logger, string batchId, string provider);

        [LoggerMessage(9, LogLevel.Warning, "Batch {BatchId}: could not look for its earlier submission at {Provider} ({Reason}); trying again at the next run")]
        public static partial void LookupFailed(ILogger logger, string batchId, string provider, string reason);

        [LoggerMessage(10, LogLevel.Error, "Batch {BatchId}: its submission to {Provider} cannot be resolved safely ({Reason}); it was not submitted again and its requests were given an error result. Check these provider batches and cancel any that are not wanted")]
        public static partial void Abandoned(ILogger logger, string batchId, string provider, string reason);

        [LoggerMessage(11, LogLevel.Warning, "Batch {BatchId}: the worst case of {Requests} requests in flight at the provider does not fit under the key's cap or the wallet and is not held; their results are charged up to what remains")]
        public static partial void HoldRefused(ILogger logger, string batchId, int requests);

        [LoggerMessage(12, LogLevel.Information, "Held again the worst case of {Requests} requests of {Batches} batches in flight at providers' batch APIs")]
        public static partial void HoldsRestored(ILogger logger, int requests, int batches);

        [LoggerMessage(13, LogLevel.Warning, "Batch {BatchId}: the file {FileId} could not be deleted at {Provider} ({Reason}); it stays in the provider's file storage")]
        public static partial void FileNotDeleted(ILogger logger, string batchId, string fileId, string provider, string reason);
    }
}
