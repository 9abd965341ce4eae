using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Qlaud.AspNetCore.Authentication;
using Qlaud.Batches;
using Qlaud.Threads;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for the OpenAI Batch API: <c>POST /v1/batches</c>, <c>GET /v1/batches[/{id}]</c>,
/// <c>POST /v1/batches/{id}/cancel</c> (policy <c>Qlaud.AnyKey</c>); they call <see cref="QlaudBatches"/>.</summary>
/// <remarks>Errors use the OpenAI envelope. A batch or input file the key may not see is a 404. An input file with invalid
/// lines creates a batch with status <c>failed</c> whose <c>errors</c> name each line.</remarks>
internal sealed class BatchEndpoints(QlaudBatches batches)
{
    public Task CreateAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        using var body = await BatchHttp.ReadObjectAsync(context, AdminHttp.MaxBody, null).ConfigureAwait(false);
        var root = body.RootElement;
        string inputFileId = RequiredString(root, "input_file_id");
        string endpoint = RequiredString(root, "endpoint");
        string window = RequiredString(root, "completion_window");
        var batch = await self._batches.CreateFromFileAsync(caller, inputFileId, endpoint, window, BatchHttp.Metadata(root), context.RequestAborted).ConfigureAwait(false)
            ?? throw new QlaudException(new QlaudError(QlaudErrorKind.NotFound, $"No file with id '{inputFileId}' exists.", "not_found"));
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, batch, WriteBatch).ConfigureAwait(false);
    });

    public Task GetAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        string id = BatchHttp.Id(context);
        var batch = await self._batches.GetAsync(caller, id, context.RequestAborted).ConfigureAwait(false);
        if (batch is null || batch.Surface != "openai")
        {
            throw new QlaudException(QlaudBatches.NotFound(id));
        }

        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, batch, WriteBatch).ConfigureAwait(false);
    });

    public Task ListAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var page = BatchHttp.ReadPage(context.Request.Query);
        var list = await self._batches.ListAsync(caller, "openai", page, context.RequestAborted).ConfigureAwait(false)
            ?? throw new QlaudException(QlaudBatches.NotFound(page.After ?? page.Before ?? ""));
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, list, static (w, l) => AdminHttp.WriteList(w, l, WriteBatch)).ConfigureAwait(false);
    });

    public Task CancelAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        string id = BatchHttp.Id(context);
        var visible = await self._batches.GetAsync(caller, id, context.RequestAborted).ConfigureAwait(false);
        if (visible is null || visible.Surface != "openai")
        {
            throw new QlaudException(QlaudBatches.NotFound(id));
        }

        var batch = await self._batches.CancelAsync(caller, id, context.RequestAborted).ConfigureAwait(false) ?? throw new QlaudException(QlaudBatches.NotFound(id));
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, batch, WriteBatch).ConfigureAwait(false);
    });

    private readonly QlaudBatches _batches = batches;

    /// <summary>The OpenAI batch object.</summary>
    internal static void WriteBatch(Utf8JsonWriter w, QlaudBatch batch)
    {
        w.WriteStartObject();
        w.WriteString("id", batch.Id);
        w.WriteString("object", "batch");
        w.WriteString("endpoint", batch.Endpoint);
        if (batch.Errors is { Count: > 0 } errors)
        {
            w.WriteStartObject("errors");
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var error in errors)
            {
                error.WriteTo(w);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("errors");
        }

        w.WriteString("input_file_id", batch.InputFileId);
        w.WriteString("completion_window", batch.CompletionWindow);
        w.WriteString("status", Status(batch.Status));
        w.WriteString("output_file_id", batch.OutputFileId);
        w.WriteString("error_file_id", batch.ErrorFileId);
        w.WriteNumber("created_at", batch.CreatedAtMs / 1000);
        Seconds(w, "in_progress_at", batch.InProgressAtMs);
        Seconds(w, "expires_at", batch.ExpiresAtMs);
        Seconds(w, "finalizing_at", batch.FinalizingAtMs);
        Seconds(w, "completed_at", batch.CompletedAtMs);
        Seconds(w, "failed_at", batch.FailedAtMs);
        Seconds(w, "expired_at", batch.ExpiredAtMs);
        Seconds(w, "cancelling_at", batch.CancellingAtMs);
        Seconds(w, "cancelled_at", batch.CancelledAtMs);
        var counts = batch.RequestCounts;
        w.WriteStartObject("request_counts");
        w.WriteNumber("total", counts.Total);
        w.WriteNumber("completed", counts.Succeeded);
        w.WriteNumber("failed", counts.Errored + counts.Canceled + counts.Expired);
        w.WriteEndObject();
        if (batch.Metadata is { } metadata)
        {
            w.WriteStartObject("metadata");
            foreach (var (key, value) in metadata)
            {
                w.WriteString(key, value);
            }

            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("metadata");
        }

        if (batch.UnpricedRequests > 0)
        {
            // Qlaud's own field: succeeded requests whose cost the provider's results did not report (charged their estimate).
            w.WriteNumber("qlaud_unpriced_requests", batch.UnpricedRequests);
        }

        w.WriteEndObject();
    }

    private static string Status(QlaudBatchStatus status) => status switch
    {
        QlaudBatchStatus.Validating => "validating",
        QlaudBatchStatus.Failed => "failed",
        QlaudBatchStatus.InProgress => "in_progress",
        QlaudBatchStatus.Finalizing => "finalizing",
        QlaudBatchStatus.Completed => "completed",
        QlaudBatchStatus.Expired => "expired",
        QlaudBatchStatus.Cancelling => "cancelling",
        _ => "cancelled",
    };

    private static void Seconds(Utf8JsonWriter w, string name, long? ms)
    {
        if (ms is { } value)
        {
            w.WriteNumber(name, value / 1000);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static string RequiredString(JsonElement root, string name)
        => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
            ? text
            : throw new QlaudException(new QlaudError(QlaudErrorKind.InvalidRequest, $"'{name}' is required and must be a string."));

    private async Task RunAsync(HttpContext context, Func<BatchEndpoints, HttpContext, QlaudCaller, Task> handler)
    {
        try
        {
            await handler(this, context, QlaudKeyFeature.Of(context).Caller).ConfigureAwait(false);
        }
        catch (QlaudException ex)
        {
            await QlaudHttp.WriteErrorAsync(context, AdminHttp.Errors, ex.Error).ConfigureAwait(false);
        }
    }
}
