using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Qlaud.FakeProvider;

/// <summary>
/// The providers' batch APIs, faked: OpenAI <c>POST /v1/files</c>, <c>GET /v1/files</c>, <c>GET /v1/files/{id}/content</c>, <c>DELETE /v1/files/{id}</c>, <c>POST /v1/batches</c>,
/// <c>GET /v1/batches</c>, <c>GET /v1/batches/{id}</c>, <c>POST /v1/batches/{id}/cancel</c>; Anthropic <c>POST /v1/messages/batches</c>,
/// <c>GET /v1/messages/batches</c>, <c>GET /v1/messages/batches/{id}</c>, <c>GET /v1/messages/batches/{id}/results</c>, <c>POST /v1/messages/batches/{id}/cancel</c>.
/// </summary>
/// <remarks>A batch is <c>in_progress</c> when created and ends at its first poll (unless <see cref="FakeProviderServer.HoldBatches"/>):
/// every request gets the default reply (its usage computed as for a chat request, unless
/// <see cref="FakeProviderServer.OmitBatchUsage"/>), or, when it was cancelled before, a canceled result. Both lists
/// (OpenAI <c>GET /v1/batches?after=&amp;limit=</c>, Anthropic <c>GET /v1/messages/batches?after_id=&amp;limit=</c>) are newest first,
/// OpenAI's with each batch's <c>metadata</c> as created.</remarks>
internal sealed class FakeBatches
{
    private readonly ConcurrentDictionary<string, byte[]> _files = new(StringComparer.Ordinal);

    /// <summary>Uploaded files' names and times (output and error files the fake wrote have none).</summary>
    private readonly ConcurrentDictionary<string, (string Name, long CreatedAt, long Sequence)> _uploads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, FakeBatch> _batches = new(StringComparer.Ordinal);
    private long _sequence;

    public async Task<bool> TryHandleAsync(HttpContext http, ReadOnlyMemory<byte> body, FakeProviderServer server)
    {
        string method = http.Request.Method;
        string path = http.Request.Path.Value ?? "";
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        switch (parts)
        {
            case ["v1", "files"] when HttpMethods.IsPost(method):
                await UploadAsync(http, body, server);
                return true;
            case ["v1", "files"] when HttpMethods.IsGet(method):
                await WriteAsync(http, ListFiles(http));
                return true;
            case ["v1", "files", var id] when HttpMethods.IsDelete(method):
                _uploads.TryRemove(id, out _);
                await WriteAsync(http, _files.TryRemove(id, out _) ? Json(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("id", id);
                    w.WriteString("object", "file");
                    w.WriteBoolean("deleted", true);
                    w.WriteEndObject();
                }) : null);
                return true;
            case ["v1", "files", var id, "content"] when HttpMethods.IsGet(method):
                await WriteAsync(http, _files.TryGetValue(id, out var content) ? content : null, "application/octet-stream");
                return true;
            case ["v1", "batches"] when HttpMethods.IsPost(method):
                await CreateOpenAIAsync(http, body, server);
                return true;
            case ["v1", "batches"] when HttpMethods.IsGet(method):
                await WriteAsync(http, List(http, anthropic: false));
                return true;
            case ["v1", "messages", "batches"] when HttpMethods.IsGet(method):
                await WriteAsync(http, List(http, anthropic: true));
                return true;
            case ["v1", "batches", var id] when HttpMethods.IsGet(method):
                await WriteAsync(http, Poll(id, server, out var batch) ? OpenAIBatch(batch!) : null);
                return true;
            case ["v1", "batches", var id, "cancel"] when HttpMethods.IsPost(method):
                await WriteAsync(http, Cancel(id, out var cancelled) ? OpenAIBatch(cancelled!) : null);
                return true;
            case ["v1", "messages", "batches"] when HttpMethods.IsPost(method):
                await CreateAnthropicAsync(http, body, server);
                return true;
            case ["v1", "messages", "batches", var id] when HttpMethods.IsGet(method):
                await WriteAsync(http, Poll(id, server, out var polled) ? AnthropicBatch(polled!) : null);
                return true;
            case ["v1", "messages", "batches", var id, "results"] when HttpMethods.IsGet(method):
                await WriteAsync(http, _batches.TryGetValue(id, out var ended) && ended.Results is { } results ? results : null, "application/x-jsonl");
                return true;
            case ["v1", "messages", "batches", var id, "cancel"] when HttpMethods.IsPost(method):
                await WriteAsync(http, Cancel(id, out var canceling) ? AnthropicBatch(canceling!) : null);
                return true;
            default:
                return false;
        }
    }

    private async Task UploadAsync(HttpContext http, ReadOnlyMemory<byte> body, FakeProviderServer server)
    {
        string boundary = HeaderUtilities.RemoveQuotes(MediaTypeHeaderValue.Parse(http.Request.ContentType).Boundary).Value!;
        var reader = new MultipartReader(boundary, new MemoryStream(body.ToArray()));
        byte[]? content = null;
        string name = "";
        while (await reader.ReadNextSectionAsync() is { } section)
        {
            if (ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) && disposition.Name.Value?.Trim('"') == "file")
            {
                using var copy = new MemoryStream();
                await section.Body.CopyToAsync(copy);
                content = copy.ToArray();
                name = HeaderUtilities.RemoveQuotes(disposition.FileName).Value ?? "";
            }
        }

        long sequence = Interlocked.Increment(ref _sequence);
        string id = "file-fake" + sequence;
        _files[id] = content ?? [];
        _uploads[id] = (name, server.Options.TimeProvider.GetUtcNow().ToUnixTimeSeconds(), sequence);
        await WriteAsync(http, Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("object", "file");
            w.WriteNumber("bytes", _files[id].Length);
            w.WriteString("purpose", "batch");
            w.WriteEndObject();
        }));
    }

    private async Task CreateOpenAIAsync(HttpContext http, ReadOnlyMemory<byte> body, FakeProviderServer server)
    {
        if (!await AcceptAsync(http, server))
        {
            return;
        }

        using var document = JsonDocument.Parse(body);
        string fileId = document.RootElement.GetProperty("input_file_id").GetString()!;
        if (!_files.TryGetValue(fileId, out var input))
        {
            await WriteAsync(http, null);
            return;
        }

        var requests = new List<(string CustomId, byte[] Body)>();
        foreach (string line in Encoding.UTF8.GetString(input).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var parsed = JsonDocument.Parse(line);
            requests.Add((parsed.RootElement.GetProperty("custom_id").GetString()!, Encoding.UTF8.GetBytes(parsed.RootElement.GetProperty("body").GetRawText())));
        }

        var batch = new FakeBatch("batch_fake" + Interlocked.Increment(ref _sequence), false, requests)
        {
            InputFileId = fileId,
            CreatedAt = server.Options.TimeProvider.GetUtcNow(),
            Metadata = document.RootElement.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object ? metadata.GetRawText() : null,
        };
        _batches[batch.Id] = batch;
        await AcceptedAsync(server, batch.Id);
        await WriteAsync(http, OpenAIBatch(batch));
    }

    private async Task CreateAnthropicAsync(HttpContext http, ReadOnlyMemory<byte> body, FakeProviderServer server)
    {
        if (!await AcceptAsync(http, server))
        {
            return;
        }

        using var document = JsonDocument.Parse(body);
        var requests = new List<(string CustomId, byte[] Body)>();
        foreach (var request in document.RootElement.GetProperty("requests").EnumerateArray())
        {
            requests.Add((request.GetProperty("custom_id").GetString()!, Encoding.UTF8.GetBytes(request.GetProperty("params").GetRawText())));
        }

        var batch = new FakeBatch("msgbatch_fake" + Interlocked.Increment(ref _sequence), true, requests) { CreatedAt = server.Options.TimeProvider.GetUtcNow() };
        _batches[batch.Id] = batch;
        await AcceptedAsync(server, batch.Id);
        await WriteAsync(http, AnthropicBatch(batch));
    }

    /// <summary>OpenAI <c>GET /v1/files?purpose=&amp;order=&amp;limit=&amp;after=</c>: the uploaded files, newest first by default.</summary>
    private byte[] ListFiles(HttpContext http)
    {
        var all = _uploads.Where(u => _files.ContainsKey(u.Key)).OrderByDescending(static u => u.Value.Sequence).ToList();
        if (http.Request.Query["order"] == "asc")
        {
            all.Reverse();
        }

        string? after = http.Request.Query["after"];
        int limit = int.TryParse(http.Request.Query["limit"], out int l) ? Math.Clamp(l, 1, 10_000) : 10_000;
        int start = after is null ? 0 : all.FindIndex(u => u.Key == after) + 1;
        var page = all.Skip(start).Take(limit).ToList();
        return Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var (id, upload) in page)
            {
                w.WriteStartObject();
                w.WriteString("id", id);
                w.WriteString("object", "file");
                w.WriteNumber("bytes", _files.TryGetValue(id, out var bytes) ? bytes.Length : 0);
                w.WriteNumber("created_at", upload.CreatedAt);
                w.WriteString("filename", upload.Name);
                w.WriteString("purpose", "batch");
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteString("first_id", page.Count > 0 ? page[0].Key : null);
            w.WriteString("last_id", page.Count > 0 ? page[^1].Key : null);
            w.WriteBoolean("has_more", start + page.Count < all.Count);
            w.WriteEndObject();
        });
    }

    /// <summary>The ids of the OpenAI files the fake holds (uploaded inputs, written outputs and error files, not deleted).</summary>
    public IReadOnlyCollection<string> FileIds => [.. _files.Keys];

    /// <summary>False (answered 500) when <see cref="FakeProviderServer.BeforeBatchCreate"/> says the batch is not to be created,
    /// or 400 while <see cref="FakeProviderServer.RefuseBatchCreate"/> is set.</summary>
    private static async Task<bool> AcceptAsync(HttpContext http, FakeProviderServer server)
    {
        if (server.RefuseBatchCreate)
        {
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            http.Response.ContentType = FakeHttp.JsonContentType;
            await http.Response.Body.WriteAsync("""{"error":{"message":"Batch refused by the fake.","type":"invalid_request_error","param":null,"code":null}}"""u8.ToArray());
            return false;
        }

        if (server.BeforeBatchCreate is not { } before || await before())
        {
            return true;
        }

        http.Response.StatusCode = StatusCodes.Status500InternalServerError;
        http.Response.ContentType = FakeHttp.JsonContentType;
        await http.Response.Body.WriteAsync("""{"error":{"message":"internal error","type":"api_error"}}"""u8.ToArray());
        return false;
    }

    private static Task AcceptedAsync(FakeProviderServer server, string id) => server.OnBatchAccepted is { } accepted ? accepted(id) : Task.CompletedTask;

    /// <summary>One page of the batches of one API, newest first, after the cursor (OpenAI <c>after</c>, Anthropic <c>after_id</c>).</summary>
    private byte[] List(HttpContext http, bool anthropic)
    {
        var all = _batches.Values.Where(b => b.Anthropic == anthropic).OrderByDescending(static b => b.Sequence).ToList();
        string? after = http.Request.Query[anthropic ? "after_id" : "after"];
        int limit = int.TryParse(http.Request.Query["limit"], out int l) ? Math.Clamp(l, 1, 1000) : 20;
        int start = after is null ? 0 : all.FindIndex(b => b.Id == after) + 1;
        var page = all.Skip(start).Take(limit).ToList();
        return Json(w =>
        {
            w.WriteStartObject();
            if (!anthropic)
            {
                w.WriteString("object", "list");
            }

            w.WriteStartArray("data");
            foreach (var batch in page)
            {
                w.WriteRawValue(anthropic ? AnthropicBatch(batch) : OpenAIBatch(batch));
            }

            w.WriteEndArray();
            w.WriteString("first_id", page.Count > 0 ? page[0].Id : null);
            w.WriteString("last_id", page.Count > 0 ? page[^1].Id : null);
            w.WriteBoolean("has_more", start + page.Count < all.Count);
            w.WriteEndObject();
        });
    }

    /// <summary>Ends the batch at its first poll.</summary>
    private bool Poll(string id, FakeProviderServer server, out FakeBatch? batch)
    {
        if (!_batches.TryGetValue(id, out batch))
        {
            return false;
        }

        lock (batch)
        {
            if (!batch.Ended && !server.HoldBatches)
            {
                End(batch, server);
            }
        }

        return true;
    }

    private bool Cancel(string id, out FakeBatch? batch)
    {
        if (!_batches.TryGetValue(id, out batch))
        {
            return false;
        }

        lock (batch)
        {
            batch.CancelRequested = true;
        }

        return true;
    }

    private void End(FakeBatch batch, FakeProviderServer server)
    {
        var output = new ArrayBufferWriter<byte>();
        var errors = new ArrayBufferWriter<byte>();
        foreach (var (customId, body) in batch.Requests)
        {
            var target = batch.CancelRequested && !batch.Anthropic ? errors : output;
            using (var w = new Utf8JsonWriter(target))
            {
                w.WriteStartObject();
                if (!batch.Anthropic)
                {
                    w.WriteString("id", "batch_req_fake" + Interlocked.Increment(ref _sequence));
                }

                w.WriteString("custom_id", customId);
                if (batch.Anthropic)
                {
                    w.WriteStartObject("result");
                    if (batch.CancelRequested)
                    {
                        w.WriteString("type", "canceled");
                    }
                    else
                    {
                        w.WriteString("type", "succeeded");
                        w.WritePropertyName("message");
                        WriteReply(w, body, anthropic: true, server);
                    }

                    w.WriteEndObject();
                }
                else if (batch.CancelRequested)
                {
                    w.WriteNull("response");
                    w.WriteStartObject("error");
                    w.WriteString("code", "batch_cancelled");
                    w.WriteString("message", "cancelled");
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteStartObject("response");
                    w.WriteNumber("status_code", 200);
                    w.WriteString("request_id", "req_fake");
                    w.WritePropertyName("body");
                    WriteReply(w, body, anthropic: false, server);
                    w.WriteEndObject();
                    w.WriteNull("error");
                }

                w.WriteEndObject();
            }

            target.Write("\n"u8);
        }

        if (batch.Anthropic)
        {
            batch.Results = output.WrittenSpan.ToArray();
        }
        else
        {
            if (output.WrittenCount > 0)
            {
                batch.OutputFileId = "file-fake" + Interlocked.Increment(ref _sequence);
                _files[batch.OutputFileId] = output.WrittenSpan.ToArray();
            }

            if (errors.WrittenCount > 0)
            {
                batch.ErrorFileId = "file-fake" + Interlocked.Increment(ref _sequence);
                _files[batch.ErrorFileId] = errors.WrittenSpan.ToArray();
            }
        }

        batch.Ended = true;
    }

    private void WriteReply(Utf8JsonWriter w, byte[] body, bool anthropic, FakeProviderServer server)
    {
        using var request = JsonDocument.Parse(body);
        string model = request.RootElement.TryGetProperty("model", out var m) ? m.GetString() ?? "" : "";
        var usage = ResolvedUsage.For(server.DefaultReply, body.Length);
        string text = server.DefaultReply.Content ?? "";
        w.WriteStartObject();
        if (anthropic)
        {
            w.WriteString("id", "msg_fake" + Interlocked.Increment(ref _sequence));
            w.WriteString("type", "message");
            w.WriteString("role", "assistant");
            w.WriteString("model", model);
            w.WriteStartArray("content");
            w.WriteStartObject();
            w.WriteString("type", "text");
            w.WriteString("text", text);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteString("stop_reason", "end_turn");
            w.WriteNull("stop_sequence");
            if (!server.OmitBatchUsage)
            {
                w.WriteStartObject("usage");
                w.WriteNumber("input_tokens", usage.Input);
                w.WriteNumber("output_tokens", usage.Output);
                w.WriteEndObject();
            }
        }
        else
        {
            w.WriteString("id", "chatcmpl-fake" + Interlocked.Increment(ref _sequence));
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", 1_700_000_000);
            w.WriteString("model", model);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", text);
            w.WriteEndObject();
            w.WriteString("finish_reason", "stop");
            w.WriteEndObject();
            w.WriteEndArray();
            if (!server.OmitBatchUsage)
            {
                w.WriteStartObject("usage");
                w.WriteNumber("prompt_tokens", usage.Input);
                w.WriteNumber("completion_tokens", usage.Output);
                w.WriteNumber("total_tokens", usage.Input + usage.Output);
                w.WriteEndObject();
            }
        }

        w.WriteEndObject();
    }

    private static byte[] OpenAIBatch(FakeBatch batch) => Json(w =>
    {
        w.WriteStartObject();
        w.WriteString("id", batch.Id);
        w.WriteString("object", "batch");
        w.WriteString("input_file_id", batch.InputFileId);
        w.WriteNumber("created_at", batch.CreatedAt.ToUnixTimeSeconds());
        if (batch.Metadata is { } metadata)
        {
            w.WritePropertyName("metadata");
            w.WriteRawValue(metadata);
        }
        else
        {
            w.WriteNull("metadata");
        }

        w.WriteString("status", batch.Ended ? (batch.CancelRequested ? "cancelled" : "completed") : batch.CancelRequested ? "cancelling" : "in_progress");
        w.WriteString("output_file_id", batch.OutputFileId);
        w.WriteString("error_file_id", batch.ErrorFileId);
        w.WriteStartObject("request_counts");
        w.WriteNumber("total", batch.Requests.Count);
        w.WriteNumber("completed", batch.Ended && !batch.CancelRequested ? batch.Requests.Count : 0);
        w.WriteNumber("failed", 0);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    private static byte[] AnthropicBatch(FakeBatch batch) => Json(w =>
    {
        w.WriteStartObject();
        w.WriteString("id", batch.Id);
        w.WriteString("type", "message_batch");
        w.WriteString("processing_status", batch.Ended ? "ended" : batch.CancelRequested ? "canceling" : "in_progress");
        w.WriteString("created_at", batch.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
        int done = batch.Ended ? batch.Requests.Count : 0;
        w.WriteStartObject("request_counts");
        w.WriteNumber("processing", batch.Requests.Count - done);
        w.WriteNumber("succeeded", batch.CancelRequested ? 0 : done);
        w.WriteNumber("errored", 0);
        w.WriteNumber("canceled", batch.CancelRequested ? done : 0);
        w.WriteNumber("expired", 0);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            write(w);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static async Task WriteAsync(HttpContext http, byte[]? body, string contentType = FakeHttp.JsonContentType)
    {
        if (body is null)
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            http.Response.ContentType = FakeHttp.JsonContentType;
            await http.Response.Body.WriteAsync("""{"error":{"message":"not found","type":"invalid_request_error"}}"""u8.ToArray());
            return;
        }

        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = contentType;
        http.Response.ContentLength = body.Length;
        await http.Response.Body.WriteAsync(body);
    }

    private sealed class FakeBatch(string id, bool anthropic, List<(string CustomId, byte[] Body)> requests)
    {
        private static long s_sequence;

        public string Id { get; } = id;

        /// <summary>Creation order, for the newest-first lists.</summary>
        public long Sequence { get; } = Interlocked.Increment(ref s_sequence);

        public DateTimeOffset CreatedAt { get; init; }

        /// <summary>The OpenAI batch's <c>metadata</c> object as sent, raw.</summary>
        public string? Metadata { get; init; }

        public bool Anthropic { get; } = anthropic;

        public List<(string CustomId, byte[] Body)> Requests { get; } = requests;

        public string? InputFileId { get; init; }

        public bool CancelRequested { get; set; }

        public bool Ended { get; set; }

        public string? OutputFileId { get; set; }

        public string? ErrorFileId { get; set; }

        public byte[]? Results { get; set; }
    }
}
