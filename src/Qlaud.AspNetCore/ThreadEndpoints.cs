using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.AspNetCore.Authentication;
using Qlaud.Configuration;
using Qlaud.Dialects;
using Qlaud.Providers;
using Qlaud.Security;
using Qlaud.Threads;

namespace Qlaud.AspNetCore;

/// <summary>
/// Handlers for <c>/v1/threads</c> (create, list, get, change, delete), <c>/v1/threads/{id}/messages</c> (take a turn, list)
/// and <c>DELETE /v1/end_users/{end_user_id}</c>; they call <see cref="IQlaudThreads"/>.
/// </summary>
/// <remarks>Thread endpoints answer errors in the Anthropic envelope, as the turn's answer is an Anthropic Messages response;
/// the end-user erase is an account endpoint and answers like <c>/v1/keys</c>. A thread the key may not see is a 404.</remarks>
internal sealed partial class ThreadEndpoints(IQlaudThreads threads, ThreadTurnEngine engine, IHostApplicationLifetime lifetime,
    IOptions<QlaudOptions> options, ILogger<ThreadEndpoints> logger)
{
    private const int MaxIdempotencyKey = 256;

    /// <summary><c>Qlaud:Limits:MaxRequestBytes</c>, as on the other <c>/v1</c> surfaces.</summary>
    private readonly int _maxRequestBytes = options.Value.Limits.MaxRequestBytes;

    private static readonly IChatDialect Errors = DialectRegistry.Get("anthropic");

    private IQlaudThreads Threads => threads;

    public Task CreateAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        using var body = await ReadObjectAsync(context, self._maxRequestBytes, allowEmpty: true).ConfigureAwait(false);
        var thread = new NewThread();
        foreach (var property in body.RootElement.EnumerateObject())
        {
            var value = property.Value;
            thread = property.Name switch
            {
                "end_user_id" => thread with { EndUserId = String(value, "end_user_id") },
                "title" => thread with { Title = String(value, "title") },
                "model" => thread with { Model = String(value, "model") },
                "system" => thread with { System = String(value, "system") },
                "metadata" => thread with { Metadata = Metadata(value) },
                "context" => thread with { ContextStrategy = Strategy(value) },
                _ => throw Invalid($"'{property.Name}' is not a thread field. Fields: end_user_id, title, metadata, system, model, context."),
            };
        }

        var created = await self.Threads.CreateAsync(caller, thread, context.RequestAborted).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status201Created, created, WriteThread).ConfigureAwait(false);
    });

    public Task ListAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var query = context.Request.Query;
        var page = ReadPage(query);
        var options = new ThreadListOptions
        {
            Limit = page.Limit, After = page.After, Before = page.Before, Order = page.Order,
            EndUserId = query["end_user_id"].ToString() is { Length: > 0 } e ? e : null,
        };
        var list = await self.Threads.ListAsync(caller, options, context.RequestAborted).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, list, static (w, l) => AdminHttp.WriteList(w, l, WriteThread)).ConfigureAwait(false);
    });

    public Task GetAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var thread = await self.Threads.GetAsync(caller, Id(context), context.RequestAborted).ConfigureAwait(false) ?? throw NotFound(context);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, thread, WriteThread).ConfigureAwait(false);
    });

    public Task PatchAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        using var body = await ReadObjectAsync(context, self._maxRequestBytes, allowEmpty: false).ConfigureAwait(false);
        var changes = new ThreadChanges();
        foreach (var property in body.RootElement.EnumerateObject())
        {
            var value = property.Value;
            changes = property.Name switch
            {
                "title" => changes with { SetTitle = true, Title = String(value, "title") },
                "model" => changes with { SetModel = true, Model = String(value, "model") },
                "system" => changes with { SetSystem = true, System = String(value, "system") },
                "metadata" => changes with { SetMetadata = true, Metadata = Metadata(value) },
                "context" => changes with { SetContextStrategy = true, ContextStrategy = Strategy(value) },
                _ => throw Invalid($"'{property.Name}' cannot be changed. Changeable: title, metadata, system, model, context."),
            };
        }

        var thread = await self.Threads.UpdateAsync(caller, Id(context), changes, context.RequestAborted).ConfigureAwait(false) ?? throw NotFound(context);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, thread, WriteThread).ConfigureAwait(false);
    });

    public Task DeleteAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        string id = Id(context);
        if (!await self.Threads.DeleteAsync(caller, id, context.RequestAborted).ConfigureAwait(false))
        {
            throw NotFound(context);
        }

        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, id, static (w, id) =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("object", "thread.deleted");
            w.WriteBoolean("deleted", true);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    });

    public Task ListMessagesAsync(HttpContext context) => RunAsync(context, static async (self, context, caller) =>
    {
        var page = ReadPage(context.Request.Query);
        var list = await self.Threads.ListMessagesAsync(caller, Id(context), page, context.RequestAborted).ConfigureAwait(false) ?? throw NotFound(context);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, list, static (w, l) => AdminHttp.WriteList(w, l, WriteMessage)).ConfigureAwait(false);
    });

    public async Task PostMessageAsync(HttpContext context)
    {
        string requestId = Qlaud.Diagnostics.RequestIds.New();
        context.Response.Headers["x-qlaud-request-id"] = requestId;
        var caller = QlaudKeyFeature.Of(context).Caller;

        // A long stream must end when the client goes away or the host shuts down, whichever comes first.
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var cancellationToken = aborted.Token;
        try
        {
            string? idempotencyKey = context.Request.Headers["Idempotency-Key"].ToString() is { Length: > 0 } k ? k : null;
            if (idempotencyKey is { Length: > MaxIdempotencyKey })
            {
                throw Invalid($"'Idempotency-Key' is longer than {MaxIdempotencyKey} characters.");
            }

            var (body, bodyError) = await QlaudHttp.ReadBodyAsync(context.Request, _maxRequestBytes, cancellationToken, QlaudHttp.LimitKey).ConfigureAwait(false);
            if (bodyError is not null)
            {
                throw new QlaudException(bodyError);
            }

            JsonDocument document;
            using (body)
            {
                document = Parse(body!.WrittenMemory);
            }

            using (document)
            {
                var headers = context.Request.Headers;
                var input = new TurnInput(caller, Id(context), document.RootElement, idempotencyKey, requestId, AllowStream: true,
                    new ForwardedHeaders(NullIfEmpty(headers["anthropic-version"].ToString()), NullIfEmpty(headers["anthropic-beta"].ToString())));
                Qlaud.Connectors.ConnectLinkBase.Current = ConnectorEndpoints.BaseUri(context); // connect links the tool loop mints
                var outcome = await engine.RunAsync(input, new HttpResponseSink(context.Response), cancellationToken).ConfigureAwait(false);
                await AnswerAsync(context, outcome).ConfigureAwait(false);
            }
        }
        catch (QlaudException ex)
        {
            await QlaudHttp.WriteErrorAsync(context, Errors, ex.Error).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.TurnCancelled(logger, context.Request.Path);
        }
    }

    public async Task EraseEndUserAsync(HttpContext context)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;

        string endUser = context.Request.RouteValues["end_user_id"] as string ?? "";
        var erased = await threads.EraseEndUserAsync(caller, endUser, context.RequestAborted).ConfigureAwait(false);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, erased, static (w, e) =>
        {
            w.WriteStartObject();
            w.WriteString("object", "end_user.erased");
            w.WriteString("end_user_id", e.EndUserId);
            w.WriteBoolean("deleted", true);
            w.WriteNumber("threads_deleted", e.ThreadsDeleted);
            w.WriteNumber("messages_deleted", e.MessagesDeleted);
            w.WriteNumber("ledger_entries_unlinked", e.LedgerEntriesUnlinked);
            w.WriteNumber("search_entries_deleted", e.SearchEntriesDeleted);
            w.WriteNumber("connections_deleted", e.ConnectionsDeleted);
            w.WriteNumber("webhook_tools_deleted", e.WebhookToolsDeleted);
            w.WriteNumber("batches_deleted", e.BatchesDeleted);
            w.WriteNumber("files_deleted", e.FilesDeleted);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    private static async Task AnswerAsync(HttpContext context, TurnOutcome outcome)
    {
        var response = context.Response;
        if (outcome.Streamed)
        {
            await response.CompleteAsync().ConfigureAwait(false);
            return;
        }

        if (outcome.Error is { } error)
        {
            await QlaudHttp.WriteErrorAsync(context, Errors, error).ConfigureAwait(false);
            return;
        }

        if (outcome.UpstreamAnswer is { } upstream)
        {
            response.StatusCode = upstream.Status;
            response.ContentType = upstream.ContentType;
            response.ContentLength = upstream.Body.Length;
            await response.Body.WriteAsync(upstream.Body, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var result = outcome.Result!;
        response.Headers["x-qlaud-thread-id"] = result.ThreadId;
        response.Headers["x-qlaud-message-id"] = result.AssistantMessageId;
        response.Headers["x-qlaud-user-message-id"] = result.UserMessageId;
        if (result.Context is { } window)
        {
            response.Headers["x-qlaud-context-messages-sent"] = window.MessagesSent.ToString(CultureInfo.InvariantCulture);
            response.Headers["x-qlaud-context-messages-dropped"] = window.MessagesDropped.ToString(CultureInfo.InvariantCulture);
            response.Headers["x-qlaud-context-messages-summarized"] = window.SummarizedMessages.ToString(CultureInfo.InvariantCulture);
        }

        if (result.Replayed)
        {
            response.Headers["x-qlaud-idempotent-replay"] = "true";
        }

        byte[] answer = outcome.ReplayAsStream ? ReplayStream.Write(result.Response) : outcome.ResultJson!;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = outcome.ReplayAsStream ? "text/event-stream" : "application/json";
        response.ContentLength = answer.Length;
        await response.Body.WriteAsync(answer, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Runs the handler for the authenticated caller (policy <c>Qlaud.AnyKey</c>) and answers a <see cref="QlaudException"/> in the Anthropic envelope.</summary>
    private async Task RunAsync(HttpContext context, Func<ThreadEndpoints, HttpContext, QlaudCaller, Task> handler)
    {
        var caller = QlaudKeyFeature.Of(context).Caller;

        try
        {
            await handler(this, context, caller).ConfigureAwait(false);
        }
        catch (QlaudException ex)
        {
            await QlaudHttp.WriteErrorAsync(context, Errors, ex.Error).ConfigureAwait(false);
        }
    }

    private static async Task<JsonDocument> ReadObjectAsync(HttpContext context, int maxBytes, bool allowEmpty)
    {
        if (allowEmpty && context.Request.ContentLength == 0)
        {
            return JsonDocument.Parse("{}");
        }

        var (body, error) = await QlaudHttp.ReadBodyAsync(context.Request, maxBytes, context.RequestAborted, QlaudHttp.LimitKey).ConfigureAwait(false);
        if (error is not null)
        {
            throw new QlaudException(error);
        }

        using (body)
        {
            return Parse(body!.WrittenMemory);
        }
    }

    private static JsonDocument Parse(ReadOnlyMemory<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException)
        {
            throw Invalid("The request body must be a JSON object.");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw Invalid("The request body must be a JSON object.");
        }

        return document;
    }

    private static PageOptions ReadPage(IQueryCollection query)
    {
        int limit = 20;
        if (query.TryGetValue("limit", out var limitText)
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > PageOptions.MaxLimit))
        {
            throw Invalid($"'limit' must be a whole number from 1 to {PageOptions.MaxLimit}.");
        }

        var order = query["order"].ToString() switch
        {
            "" or "desc" => ListOrder.Descending,
            "asc" => ListOrder.Ascending,
            _ => throw Invalid("'order' must be \"asc\" or \"desc\"."),
        };
        return new PageOptions
        {
            Limit = limit,
            Order = order,
            After = query["after"].ToString() is { Length: > 0 } a ? a : null,
            Before = query["before"].ToString() is { Length: > 0 } b ? b : null,
        };
    }

    private static string? String(JsonElement value, string name) => value.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.String => value.GetString(),
        _ => throw Invalid($"'{name}' must be a string or null."),
    };

    /// <summary>A thread's <c>context</c> field: <c>{"strategy":"truncate"|"summarize"}</c>, or null for the default.</summary>
    private static string? Strategy(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        string? strategy = null;
        if (value.ValueKind == JsonValueKind.Object)
        {
            foreach (var option in value.EnumerateObject())
            {
                strategy = option.Name == "strategy" && option.Value.ValueKind is JsonValueKind.String or JsonValueKind.Null
                    ? option.Value.GetString()
                    : throw Invalid("'context' holds only 'strategy': \"truncate\" or \"summarize\".");
            }

            return strategy;
        }

        throw Invalid("'context' must be an object such as {\"strategy\":\"summarize\"}, or null.");
    }

    private static Dictionary<string, string>? Metadata(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("'metadata' must be an object of string values.");
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in value.EnumerateObject())
        {
            metadata[pair.Name] = pair.Value.ValueKind == JsonValueKind.String ? pair.Value.GetString()! : throw Invalid("'metadata' must be an object of string values.");
        }

        return metadata;
    }

    private static void WriteThread(Utf8JsonWriter writer, QlaudThread thread)
    {
        writer.WriteStartObject();
        writer.WriteString("id", thread.Id);
        writer.WriteString("object", "thread");
        writer.WriteString("end_user_id", thread.EndUserId);
        writer.WriteString("title", thread.Title);
        writer.WriteStartObject("metadata");
        foreach (var (key, value) in thread.Metadata)
        {
            writer.WriteString(key, value);
        }

        writer.WriteEndObject();
        writer.WriteString("model", thread.Model);
        writer.WriteString("system", thread.System);
        writer.WriteStartObject("context");
        writer.WriteString("strategy", thread.ContextStrategy);
        if (thread.Summary is { } summary)
        {
            writer.WriteStartObject("summary");
            writer.WriteString("text", summary.Text);
            writer.WriteNumber("summarized_messages", summary.SummarizedMessages);
            writer.WriteString("request_id", summary.RequestId);
            writer.WriteNumber("updated_ms", summary.UpdatedAtMs);
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteNull("summary");
        }

        writer.WriteEndObject();
        writer.WriteNumber("created_ms", thread.CreatedAtMs);
        writer.WriteNumber("updated_ms", thread.UpdatedAtMs);
        writer.WriteEndObject();
    }

    private static void WriteMessage(Utf8JsonWriter writer, QlaudThreadMessage message)
    {
        writer.WriteStartObject();
        writer.WriteString("id", message.Id);
        writer.WriteString("object", "thread.message");
        writer.WriteString("thread_id", message.ThreadId);
        writer.WriteString("role", message.Role);
        writer.WritePropertyName("content");
        message.Content.WriteTo(writer);
        writer.WriteString("model", message.Model);
        writer.WriteString("route", message.Route);
        writer.WriteString("status", message.Status);
        writer.WriteString("stop_reason", message.StopReason);
        writer.WriteStartObject("usage");
        writer.WriteNumber("input_tokens", message.InputTokens);
        writer.WriteNumber("output_tokens", message.OutputTokens);
        writer.WriteEndObject();
        writer.WriteNumber("cost_micros", message.CostMicros);
        writer.WriteString("request_id", message.RequestId);
        writer.WriteNumber("created_ms", message.CreatedAtMs);
        writer.WriteEndObject();
    }

    private static string Id(HttpContext context) => context.Request.RouteValues["id"] as string ?? "";

    private static QlaudException NotFound(HttpContext context) => new(ThreadErrors.NotFound(Id(context)));

    private static QlaudException Invalid(string message) => new(new QlaudError(QlaudErrorKind.InvalidRequest, message));

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Thread turn {Path} cancelled by the client or shutdown")]
        public static partial void TurnCancelled(ILogger logger, PathString path);
    }
}
