using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Qlaud.AspNetCore.Authentication;
using Qlaud.Batches;
using Qlaud.Storage;
using Qlaud.Threads;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for the OpenAI Files API used by batches: <c>POST /v1/files</c> (multipart, purpose <c>batch</c>),
/// <c>GET /v1/files[/{id}]</c>, <c>GET /v1/files/{id}/content</c>, <c>DELETE /v1/files/{id}</c> (policy <c>Qlaud.AnyKey</c>).</summary>
/// <remarks>An upload larger than <c>Qlaud:Batches:MaxFileBytes</c> is answered 413 and nothing is kept. A file the key may not
/// see is a 404.</remarks>
internal sealed class FileEndpoints(BatchFiles files)
{
    /// <summary>What a multipart body may add around the file: boundaries, headers, the purpose field.</summary>
    private const long MultipartOverhead = 64 * 1024;

    public Task UploadAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var request = context.Request;
        long limit = self.Files.MaxFileBytes + MultipartOverhead;
        if (request.ContentLength > limit)
        {
            throw TooLarge(self.Files.MaxFileBytes);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
        {
            sizeLimit.MaxRequestBodySize = limit;
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType) || !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(contentType.Boundary).Value is not { Length: > 0 } boundary)
        {
            throw Invalid("Upload the file as multipart/form-data with the fields 'file' and 'purpose'.");
        }

        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = self.Files.MaxFileBytes + 1 };
        string? purpose = null;
        BatchFileEntity? saved = null;
        try
        {
            while (await reader.ReadNextSectionAsync(context.RequestAborted).ConfigureAwait(false) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
                {
                    continue;
                }

                string name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                if (name == "purpose")
                {
                    using var text = new StreamReader(section.Body);
                    purpose = (await text.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false)).Trim();
                }
                else if (name == "file" && saved is null)
                {
                    string filename = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value ?? "upload.jsonl";
                    saved = await self.Files.SaveAsync(caller, Path.GetFileName(filename), "batch", section.Body, context.RequestAborted).ConfigureAwait(false)
                        ?? throw TooLarge(self.Files.MaxFileBytes);
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or BadHttpRequestException)
        {
            await DeleteSavedAsync(self, caller, saved).ConfigureAwait(false);
            bool tooLarge = ex is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge }
                || ex is InvalidDataException && ex.Message.Contains("limit", StringComparison.OrdinalIgnoreCase);
            throw tooLarge
                ? TooLarge(self.Files.MaxFileBytes)
                : Invalid("The multipart body could not be read: " + ex.Message);
        }

        if (purpose != "batch")
        {
            await DeleteSavedAsync(self, caller, saved).ConfigureAwait(false);
            throw Invalid(purpose is null ? "'purpose' is required; Qlaud accepts files with purpose 'batch'." : $"'purpose' must be 'batch' (got '{purpose}').");
        }

        if (saved is null)
        {
            throw Invalid("'file' is required.");
        }

        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, saved, WriteFile).ConfigureAwait(false);
    });

    public Task ListAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var query = context.Request.Query;
        var page = BatchHttp.ReadPage(query, defaultLimit: 10000, maxLimit: 10000);
        string? purpose = query["purpose"].ToString() is { Length: > 0 } p ? p : null;
        var list = await self.Files.ListAsync(ThreadScope.For(caller), purpose, page, context.RequestAborted).ConfigureAwait(false)
            ?? throw new QlaudException(NotFound(page.After!));
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, list, static (w, l) => AdminHttp.WriteList(w, l, WriteFile)).ConfigureAwait(false);
    });

    public Task GetAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var file = await self.FindAsync(context, caller).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, file, WriteFile).ConfigureAwait(false);
    });

    public Task ContentAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var file = await self.FindAsync(context, caller).ConfigureAwait(false);
        var stream = self.Files.OpenRead(file.Id);
        await using (stream.ConfigureAwait(false))
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/octet-stream";
            context.Response.ContentLength = stream.Length;
            await stream.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        }
    });

    public Task DeleteAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        string id = BatchHttp.Id(context);
        if (!await self.Files.DeleteAsync(ThreadScope.For(caller), id, context.RequestAborted).ConfigureAwait(false))
        {
            throw new QlaudException(NotFound(id));
        }

        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, id, static (w, id) =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("object", "file");
            w.WriteBoolean("deleted", true);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    });

    private BatchFiles Files => files;

    private async Task<BatchFileEntity> FindAsync(HttpContext context, QlaudCaller caller)
    {
        string id = BatchHttp.Id(context);
        return await files.FindAsync(ThreadScope.For(caller), id, context.RequestAborted).ConfigureAwait(false) ?? throw new QlaudException(NotFound(id));
    }

    private static async Task DeleteSavedAsync(FileEndpoints self, QlaudCaller caller, BatchFileEntity? saved)
    {
        if (saved is not null)
        {
            await self.Files.DeleteAsync(ThreadScope.For(caller), saved.Id, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static void WriteFile(Utf8JsonWriter w, BatchFileEntity file)
    {
        w.WriteStartObject();
        w.WriteString("id", file.Id);
        w.WriteString("object", "file");
        w.WriteNumber("bytes", file.Bytes);
        w.WriteNumber("created_at", file.CreatedAtMs / 1000);
        w.WriteNull("expires_at");
        w.WriteString("filename", file.Filename);
        w.WriteString("purpose", file.Purpose);
        w.WriteString("status", "processed");
        w.WriteNull("status_details");
        w.WriteEndObject();
    }

    private async Task RunAsync(HttpContext context, Func<FileEndpoints, HttpContext, QlaudCaller, Task> handler)
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

    private static QlaudError NotFound(string id) => new(QlaudErrorKind.NotFound, $"No file with id '{id}' exists.", "not_found");

    private static QlaudException Invalid(string message) => new(new QlaudError(QlaudErrorKind.InvalidRequest, message));

    private static QlaudException TooLarge(long maxBytes) => new(new QlaudError(QlaudErrorKind.PayloadTooLarge,
        string.Create(CultureInfo.InvariantCulture, $"The file is larger than {maxBytes} bytes, the most this gateway accepts (Qlaud:Batches:MaxFileBytes)."), "file_too_large"));
}
