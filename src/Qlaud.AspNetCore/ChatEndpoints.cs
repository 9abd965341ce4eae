using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Dialects;
using Qlaud.Forwarding;
using Qlaud.Providers;
using Qlaud.Routing;
using Qlaud.Security;

namespace Qlaud.AspNetCore;

/// <summary>Handlers for <c>POST /v1/chat/completions</c> and <c>POST /v1/messages</c>: authenticate, scan, forward.</summary>
internal sealed partial class ChatEndpoints(ChatForwarder forwarder, KeyAuthenticator authenticator, IHostApplicationLifetime lifetime, IOptions<QlaudOptions> options, ILogger<ChatEndpoints> logger)
{
    private readonly int _maxRequestBytes = options.Value.Limits.MaxRequestBytes;

    public Task ChatCompletionsAsync(HttpContext context) => ForwardAsync(context, DialectRegistry.Get("openai"));

    public Task MessagesAsync(HttpContext context) => ForwardAsync(context, DialectRegistry.Get("anthropic"));

    public Task CountTokensAsync(HttpContext context) => ForwardAsync(context, DialectRegistry.Get("anthropic"), countTokens: true);

    private async Task ForwardAsync(HttpContext context, IChatDialect surface, bool countTokens = false)
    {
        // Every answer, errors included, names the request, and its ledger entry carries the same id.
        string requestId = Qlaud.Diagnostics.RequestIds.New();
        context.Response.Headers["x-qlaud-request-id"] = requestId;
        var (caller, authError) = await QlaudHttp.AuthenticateAsync(context, authenticator).ConfigureAwait(false);
        if (caller is null)
        {
            await QlaudHttp.WriteErrorAsync(context, surface, authError!).ConfigureAwait(false);
            return;
        }

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

            if (WireRequestScanner.Scan(body!.WrittenSpan, out var info) is { } scanError)
            {
                await QlaudHttp.WriteErrorAsync(context, surface, new QlaudError(QlaudErrorKind.InvalidRequest, scanError)).ConfigureAwait(false);
                return;
            }

            RoutingRequest? routing = null;
            if (info.HasRoutingFields
                && RoutingRequest.Parse(info.ModelsMember.Value(body.WrittenSpan), info.ProviderMember.Value(body.WrittenSpan), out routing) is { } routingError)
            {
                await QlaudHttp.WriteErrorAsync(context, surface, new QlaudError(QlaudErrorKind.InvalidRequest, routingError)).ConfigureAwait(false);
                return;
            }

            if (string.IsNullOrEmpty(info.Model) && routing is not { Models.Count: > 0 })
            {
                await QlaudHttp.WriteErrorAsync(context, surface, new QlaudError(QlaudErrorKind.InvalidRequest, "'model' is required.", "missing_model")).ConfigureAwait(false);
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
    }
}
