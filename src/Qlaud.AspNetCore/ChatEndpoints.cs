using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Dialects;
using Qlaud.Embeddings;
using Qlaud.Forwarding;
using Qlaud.Providers;
using Qlaud.Routing;
using Qlaud.AspNetCore.Authentication;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for <c>POST /v1/chat/completions</c>, <c>POST /v1/messages</c> and <c>POST /v1/embeddings</c>: scan,
/// forward (policy <see cref="QlaudAuthorizationPolicies.AnyKey"/>).</summary>
internal sealed partial class ChatEndpoints(ChatForwarder forwarder, IHostApplicationLifetime lifetime, IOptions<QlaudOptions> options, ILogger<ChatEndpoints> logger,
    Qlaud.Connectors.Tools.McpServersLoop mcpServers)
{
    private readonly int _maxRequestBytes = options.Value.Limits.MaxRequestBytes;

    public Task ChatCompletionsAsync(HttpContext context) => ForwardAsync(context, DialectRegistry.Get("openai"));

    public Task MessagesAsync(HttpContext context) => ForwardAsync(context, DialectRegistry.Get("anthropic"));

    public Task CountTokensAsync(HttpContext context) => ForwardAsync(context, DialectRegistry.Get("anthropic"), countTokens: true);

    public Task EmbeddingsAsync(HttpContext context) => ForwardAsync(context, DialectRegistry.Get("openai"), embeddings: true);

    /// <summary>Whether an Anthropic request carries <c>mcp_servers</c> at its top level (Qlaud runs those servers' tools itself).</summary>
    private static bool HasMcpServers(ReadOnlySpan<byte> body, out bool stream)
    {
        stream = false;
        if (body.IndexOf("\"mcp_servers\""u8) < 0)
        {
            return false;
        }

        using var document = System.Text.Json.JsonDocument.Parse(body.ToArray());
        stream = document.RootElement.TryGetProperty("stream", out var s) && s.ValueKind == System.Text.Json.JsonValueKind.True;
        return document.RootElement.TryGetProperty("mcp_servers", out _);
    }

    /// <summary><c>POST /v1/messages</c> with <c>mcp_servers</c>, for any model: the tool loop over those servers; a stream gets the
    /// answer's events while the loop runs.</summary>
    private async Task McpServersAsync(HttpContext context, QlaudCaller caller, ReadOnlyMemory<byte> body, bool stream, CancellationToken cancellationToken)
    {
        Qlaud.Connectors.ConnectLinkBase.Current = ConnectorEndpoints.BaseUri(context);
        QlaudError? error;
        byte[]? message;
        Qlaud.Threads.ToolLoopStream? events = null;
        Func<string, Qlaud.Threads.ToolLoopStream>? open = stream
            ? model => events = new Qlaud.Threads.ToolLoopStream(new HttpResponseSink(context.Response), [], model)
            : null;
        try
        {
            (error, message, _) = await mcpServers.RunAsync(caller, body, open, cancellationToken).ConfigureAwait(false);
        }
        catch (QlaudException ex) when (events is { Started: true })
        {
            // The stream had started: the failure ends it as Anthropic's error event.
            if (!events.Ended)
            {
                await events.FailAsync(ex.Error, cancellationToken).ConfigureAwait(false);
            }

            return;
        }
        catch (QlaudException ex)
        {
            (error, message) = (ex.Error, null); // over a cap (402), rate limited, no route: as on any /v1/messages request
        }

        if (error is not null)
        {
            await QlaudHttp.WriteErrorAsync(context, DialectRegistry.Get("anthropic"), error).ConfigureAwait(false);
            return;
        }

        if (stream)
        {
            return;
        }

        byte[] answer = message!;
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = answer.Length;
        await context.Response.Body.WriteAsync(answer, cancellationToken).ConfigureAwait(false);
    }

    private async Task ForwardAsync(HttpContext context, IChatDialect surface, bool countTokens = false, bool embeddings = false)
    {
        // Every answer, errors included, names the request, and its ledger entry carries the same id.
        string requestId = Qlaud.Diagnostics.RequestIds.New();
        context.Response.Headers["x-qlaud-request-id"] = requestId;
        var caller = QlaudKeyFeature.Of(context).Caller;

        // A long stream must end when the client goes away or the host shuts down, whichever comes first.
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var cancellationToken = aborted.Token;
        PooledBufferWriter? body = null;
        try
        {
            (body, var bodyError) = await QlaudHttp.ReadBodyAsync(context.Request, _maxRequestBytes, cancellationToken, QlaudHttp.LimitKey).ConfigureAwait(false);
            if (bodyError is not null)
            {
                await QlaudHttp.WriteErrorAsync(context, surface, bodyError).ConfigureAwait(false);
                return;
            }

            if (InboundCheck.Check(body!.WrittenSpan, embeddings, out var info, out var routing) is { } invalid)
            {
                await QlaudHttp.WriteErrorAsync(context, surface, invalid).ConfigureAwait(false);
                return;
            }

            if (!countTokens && !embeddings && surface.Name == "anthropic" && HasMcpServers(body.WrittenSpan, out bool stream))
            {
                await McpServersAsync(context, caller, body.WrittenMemory, stream, cancellationToken).ConfigureAwait(false);
                return;
            }

            var headers = context.Request.Headers;
            var inbound = new InboundChat
            {
                Surface = surface,
                Body = body.WrittenMemory,
                Info = info,
                Caller = caller,
                RequestId = requestId,
                Routing = routing,
                Embeddings = embeddings,
                Headers = new ForwardedHeaders(NullIfEmpty(headers["anthropic-version"].ToString()), NullIfEmpty(headers["anthropic-beta"].ToString())),
            };
            var sink = new HttpResponseSink(context.Response);
            var outcome = countTokens
                ? await forwarder.CountTokensAsync(inbound, sink, cancellationToken).ConfigureAwait(false)
                : await forwarder.ForwardAsync(inbound, sink, cancellationToken).ConfigureAwait(false);
            if (outcome.Error is { } error && !outcome.ResponseWritten)
            {
                await QlaudHttp.WriteErrorAsync(context, surface, error).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client disconnected or the host is stopping: the upstream call was cancelled with it.
            Log.RequestCancelled(logger, context.Request.Path);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A fault inside the gateway (the request's reservation was already settled or released on the way out): the
            // client hears it in its own dialect, or, when its answer had started, the response is aborted, not ended cleanly.
            Log.RequestFailed(logger, context.Request.Path, ex);
            if (context.Response.HasStarted)
            {
                context.Abort();
            }
            else
            {
                context.Response.Headers.Remove("x-qlaud-route");
                await QlaudHttp.WriteErrorAsync(context, surface, new QlaudError(QlaudErrorKind.Internal, "The gateway failed while handling this request.", "internal_error"))
                    .ConfigureAwait(false);
            }
        }
        finally
        {
            body?.Dispose();
        }
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Request to {Path} cancelled by the client or shutdown")]
        public static partial void RequestCancelled(ILogger logger, PathString path);

        [LoggerMessage(2, LogLevel.Error, "Request to {Path} failed inside the gateway")]
        public static partial void RequestFailed(ILogger logger, PathString path, Exception exception);
    }
}
