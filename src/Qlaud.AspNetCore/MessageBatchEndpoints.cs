using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Qlaud.AspNetCore.Authentication;
using Qlaud.Batches;
using Qlaud.Configuration;
using Qlaud.Dialects;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for the Anthropic Message Batches API: <c>POST /v1/messages/batches</c>, <c>GET /v1/messages/batches[/{id}]</c>,
/// <c>POST /v1/messages/batches/{id}/cancel</c>, <c>DELETE /v1/messages/batches/{id}</c> and
/// <c>GET /v1/messages/batches/{id}/results</c> (policy <c>Qlaud.AnyKey</c>); they call <see cref="QlaudBatches"/>.</summary>
/// <remarks>Errors use the Anthropic envelope. The results are JSONL, one line per <c>custom_id</c>, once processing ended.</remarks>
internal sealed class MessageBatchEndpoints(QlaudBatches batches, IOptions<QlaudOptions> options)
{
    private static readonly IChatDialect Errors = DialectRegistry.Get("anthropic");

    /// <summary>The largest creation body: the larger of <c>Qlaud:Limits:MaxRequestBytes</c> and <c>Qlaud:Batches:MaxFileBytes</c> (a batch carries many requests).</summary>
    private readonly int _maxBody = (int)Math.Min(int.MaxValue - 1L, Math.Max(options.Value.Limits.MaxRequestBytes, options.Value.Batches.MaxFileBytes));

    public Task CreateAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        using var body = await BatchHttp.ReadObjectAsync(context, self._maxBody, null).ConfigureAwait(false);
        if (!body.RootElement.TryGetProperty("requests", out var list) || list.ValueKind != JsonValueKind.Array)
        {
            throw Invalid("requests: Field required (an array of {custom_id, params}).");
        }

        var requests = new List<BatchRequestInput>(list.GetArrayLength());
        int i = 0;
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object
                || !item.TryGetProperty("custom_id", out var customId) || customId.ValueKind != JsonValueKind.String
                || !item.TryGetProperty("params", out var parameters) || parameters.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(string.Create(CultureInfo.InvariantCulture, $"requests.{i}: each request needs a string 'custom_id' and a 'params' object."));
            }

            requests.Add(new BatchRequestInput(customId.GetString()!, System.Text.Encoding.UTF8.GetBytes(parameters.GetRawText())));
            i++;
        }

        var batch = await self._batches.CreateAsync(caller, new NewBatch { Endpoint = QlaudBatchEndpoint.Messages, Surface = "anthropic", Requests = requests },
            context.RequestAborted).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, (batch, ResultsUrl(context, batch)), static (w, s) => WriteBatch(w, s.batch, s.Item2)).ConfigureAwait(false);
    });

    public Task GetAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var batch = await self.FindAsync(context, caller).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, (batch, ResultsUrl(context, batch)), static (w, s) => WriteBatch(w, s.batch, s.Item2)).ConfigureAwait(false);
    });

    public Task ListAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var page = BatchHttp.ReadPage(context.Request.Query, maxLimit: 1000);
        var list = await self._batches.ListAsync(caller, "anthropic", page, context.RequestAborted).ConfigureAwait(false)
            ?? throw new QlaudException(QlaudBatches.NotFound(page.After ?? page.Before ?? ""));
        var urls = list.Data.Select(b => ResultsUrl(context, b)).ToList();
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, (list, urls), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteStartArray("data");
            for (int i = 0; i < s.list.Data.Count; i++)
            {
                WriteBatch(w, s.list.Data[i], s.urls[i]);
            }

            w.WriteEndArray();
            w.WriteBoolean("has_more", s.list.HasMore);
            w.WriteString("first_id", s.list.FirstId);
            w.WriteString("last_id", s.list.LastId);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    });

    public Task CancelAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var found = await self.FindAsync(context, caller).ConfigureAwait(false);
        var batch = await self._batches.CancelAsync(caller, found.Id, context.RequestAborted).ConfigureAwait(false) ?? throw new QlaudException(QlaudBatches.NotFound(found.Id));
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, (batch, ResultsUrl(context, batch)), static (w, s) => WriteBatch(w, s.batch, s.Item2)).ConfigureAwait(false);
    });

    public Task DeleteAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var found = await self.FindAsync(context, caller).ConfigureAwait(false);
        if (!found.IsEnded)
        {
            throw Invalid($"Message Batch {found.Id} cannot be deleted while it is processing; cancel it first.");
        }

        await self._batches.DeleteAsync(caller, found.Id, context.RequestAborted).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, found.Id, static (w, id) =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("type", "message_batch_deleted");
            w.WriteEndObject();
        }).ConfigureAwait(false);
    });

    public Task ResultsAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var found = await self.FindAsync(context, caller).ConfigureAwait(false);
        if (!found.IsEnded)
        {
            throw Invalid($"Message Batch {found.Id} has not ended; its results are available once processing_status is \"ended\".");
        }

        byte[] lines = await self._batches.AnthropicResultsAsync(caller, found.Id, context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/x-jsonl";
        context.Response.ContentLength = lines.Length;
        await context.Response.Body.WriteAsync(lines, context.RequestAborted).ConfigureAwait(false);
    });

    private readonly QlaudBatches _batches = batches;

    private async Task<QlaudBatch> FindAsync(HttpContext context, QlaudCaller caller)
    {
        string id = BatchHttp.Id(context);
        var batch = await _batches.GetAsync(caller, id, context.RequestAborted).ConfigureAwait(false);
        return batch is { Surface: "anthropic" } ? batch : throw new QlaudException(QlaudBatches.NotFound(id));
    }

    private static string? ResultsUrl(HttpContext context, QlaudBatch batch)
        => batch.IsEnded ? $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}/v1/messages/batches/{batch.Id}/results" : null;

    /// <summary>The Anthropic message batch object.</summary>
    private static void WriteBatch(Utf8JsonWriter w, QlaudBatch batch, string? resultsUrl)
    {
        w.WriteStartObject();
        w.WriteString("id", batch.Id);
        w.WriteString("type", "message_batch");
        w.WriteString("processing_status", batch.IsEnded ? "ended" : batch.Status == QlaudBatchStatus.Cancelling ? "canceling" : "in_progress");
        var counts = batch.RequestCounts;
        w.WriteStartObject("request_counts");
        w.WriteNumber("processing", counts.Processing);
        w.WriteNumber("succeeded", counts.Succeeded);
        w.WriteNumber("errored", counts.Errored);
        w.WriteNumber("canceled", counts.Canceled);
        w.WriteNumber("expired", counts.Expired);
        w.WriteEndObject();
        Time(w, "ended_at", batch.EndedAtMs);
        Time(w, "created_at", batch.CreatedAtMs);
        Time(w, "expires_at", batch.ExpiresAtMs);
        w.WriteNull("archived_at");
        Time(w, "cancel_initiated_at", batch.CancellingAtMs);
        w.WriteString("results_url", resultsUrl);
        if (batch.UnpricedRequests > 0)
        {
            // Qlaud's own field, as on the OpenAI batch object: succeeded requests whose cost the provider's results did not
            // report (charged their estimate). Additive: clients of Anthropic's API ignore fields they do not know.
            w.WriteNumber("qlaud_unpriced_requests", batch.UnpricedRequests);
        }

        w.WriteEndObject();
    }

    private static void Time(Utf8JsonWriter w, string name, long? ms)
    {
        if (ms is { } value)
        {
            w.WriteString(name, DateTimeOffset.FromUnixTimeMilliseconds(value).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private async Task RunAsync(HttpContext context, Func<MessageBatchEndpoints, HttpContext, QlaudCaller, Task> handler)
    {
        try
        {
            await handler(this, context, QlaudKeyFeature.Of(context).Caller).ConfigureAwait(false);
        }
        catch (QlaudException ex)
        {
            await QlaudHttp.WriteErrorAsync(context, Errors, ex.Error).ConfigureAwait(false);
        }
    }

    private static QlaudException Invalid(string message) => new(new QlaudError(QlaudErrorKind.InvalidRequest, message));
}
