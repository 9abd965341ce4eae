using System.Text.Json;

namespace Qlaud.FakeProvider;

/// <summary>
/// The fake provider's only middleware: routes by method and path (no routing system, no model binding),
/// records the request, picks the scripted reply and hands it to the dialect writer; with
/// <see cref="FakeProviderOptions.ControlEndpoints"/> it also serves <see cref="FakeControl"/> under <c>/_fake/</c>.
/// </summary>
internal sealed class FakeRequestHandler
{
    private readonly FakeProviderServer _server;
    private readonly FakeProviderOptions _options;
    private readonly CancellationToken _stopping;
    private readonly byte[] _openAIModels;
    private readonly byte[] _anthropicModels;
    private long _sequence;

    public FakeRequestHandler(FakeProviderServer server, FakeProviderOptions options, CancellationToken stopping)
    {
        _server = server;
        _options = options;
        _stopping = stopping;
        var now = options.TimeProvider.GetUtcNow();
        _openAIModels = OpenAIWire.RenderModels(options.Models, now.ToUnixTimeSeconds());
        _anthropicModels = AnthropicWire.RenderModels(options.Models, now);
    }

    private enum Dialect
    {
        OpenAI,
        Anthropic,
    }

    private enum Endpoint
    {
        NotFound,
        ChatCompletions,
        Messages,
        CountTokens,
        Models,
        Embeddings,
        Images,
    }

    public async Task HandleAsync(HttpContext http)
    {
        RequestBody body;
        try
        {
            body = await RequestBody.ReadAsync(http.Request, http.RequestAborted);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or BadHttpRequestException)
        {
            // The client went away (or sent garbage) before the body arrived: nothing to answer or record.
            return;
        }

        using (body)
        {
            var request = http.Request;
            if (_options.ControlEndpoints && request.Path.StartsWithSegments("/_fake", StringComparison.Ordinal))
            {
                // Not recorded: the control calls are the test talking to the fake, not a client's request.
                await FakeControl.HandleAsync(http, _server, body.Memory);
                return;
            }

            var endpoint = Route(request.Method, request.Path.Value);
            var fields = endpoint is Endpoint.ChatCompletions or Endpoint.Messages or Endpoint.CountTokens or Endpoint.Embeddings or Endpoint.Images
                ? ChatRequestFields.Parse(body.Span)
                : default;

            var recorded = _options.RecordRequests ? Record(http, body, fields) : null;
            try
            {
                await DispatchAsync(http, endpoint, body, fields, recorded);
            }
            finally
            {
                recorded?.MarkCompleted();
            }
        }
    }

    private static Endpoint Route(string method, string? path)
    {
        var isPost = HttpMethods.IsPost(method);
        return path switch
        {
            "/v1/chat/completions" when isPost => Endpoint.ChatCompletions,
            "/v1/messages" when isPost => Endpoint.Messages,
            "/v1/messages/count_tokens" when isPost => Endpoint.CountTokens,
            "/v1/models" when HttpMethods.IsGet(method) => Endpoint.Models,
            "/v1/embeddings" when isPost => Endpoint.Embeddings,
            "/v1/images/generations" when isPost => Endpoint.Images,
            _ => Endpoint.NotFound,
        };
    }

    /// <summary>For paths both dialects share (or none serves), an Anthropic client gives itself away by its headers.</summary>
    private static Dialect DialectOf(HttpRequest request)
        => request.Headers.ContainsKey("anthropic-version") || request.Headers.ContainsKey("x-api-key") ? Dialect.Anthropic : Dialect.OpenAI;

    private static RecordedRequest CreateRecord(HttpContext http, in RequestBody body, in ChatRequestFields fields, TimeProvider timeProvider)
    {
        var request = http.Request;
        var headers = new Dictionary<string, string>(request.Headers.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in request.Headers)
        {
            headers[name] = values.ToString();
        }

        return new RecordedRequest(
            request.Method,
            request.Path.Value + request.QueryString.Value,
            headers,
            body.ToArray(),
            timeProvider.GetUtcNow(),
            fields.Model,
            fields.Stream);
    }

    private RecordedRequest Record(HttpContext http, in RequestBody body, in ChatRequestFields fields)
    {
        var recorded = CreateRecord(http, body, fields, _options.TimeProvider);
        _server.Add(recorded);
        return recorded;
    }

    private async Task DispatchAsync(HttpContext http, Endpoint endpoint, RequestBody body, ChatRequestFields fields, RecordedRequest? recorded)
    {
        switch (endpoint)
        {
            case Endpoint.ChatCompletions:
                await ChatAsync(http, Dialect.OpenAI, body, fields, recorded);
                break;
            case Endpoint.Messages:
                await ChatAsync(http, Dialect.Anthropic, body, fields, recorded);
                break;
            case Endpoint.CountTokens:
                await CountTokensAsync(http, body, fields);
                break;
            case Endpoint.Embeddings:
                await EmbeddingsAsync(http, body, fields, recorded);
                break;
            case Endpoint.Images:
                await ImagesAsync(http, body, fields, recorded);
                break;
            case Endpoint.Models:
                var models = DialectOf(http.Request) == Dialect.Anthropic ? _anthropicModels : _openAIModels;
                await FakeHttp.WriteJsonAsync(http, StatusCodes.Status200OK, models, http.RequestAborted);
                break;
            default:
                if (await _server.Batches.TryHandleAsync(http, body.Memory, _server))
                {
                    break;
                }

                await WriteErrorAsync(http, DialectOf(http.Request), StatusCodes.Status404NotFound, $"Invalid URL ({http.Request.Method} {http.Request.Path})");
                break;
        }
    }

    private async Task CountTokensAsync(HttpContext http, RequestBody body, ChatRequestFields fields)
    {
        if (await RejectAnthropicAsync(http, fields, requireMaxTokens: false))
        {
            return;
        }

        http.Response.ContentType = FakeHttp.JsonContentType;
        using var w = new Utf8JsonWriter(http.Response.BodyWriter, FakeHttp.WriterOptions);
        AnthropicWire.WriteTokenCount(w, ResolvedUsage.EstimateInputTokens(body.Length));
        w.Flush();
        await http.Response.BodyWriter.FlushAsync(http.RequestAborted);
    }

    /// <summary>
    /// Answers an OpenAI embeddings request. It takes the next scripted reply like a chat request: an error or hang reply
    /// acts as for chat, a cut-off reply sends headers and drops the body, any other reply is the embeddings list.
    /// </summary>
    private async Task EmbeddingsAsync(HttpContext http, RequestBody body, ChatRequestFields fields, RecordedRequest? recorded)
    {
        var parsed = OpenAIEmbeddingsWire.Parse(body.Span);
        if (parsed.Error is { } invalid)
        {
            await WriteErrorAsync(http, Dialect.OpenAI, StatusCodes.Status400BadRequest, invalid);
            return;
        }

        var reply = NextReply(http, body, fields, recorded);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, _stopping);
        var cancellation = linked.Token;
        try
        {
            var latency = reply.Latency ?? _options.Latency;
            if (latency > TimeSpan.Zero)
            {
                await Task.Delay(latency, _options.TimeProvider, cancellation);
            }

            FakeHttp.AddHeaders(http.Response, reply.Headers);
            switch (reply.Kind)
            {
                case FakeReplyKind.Hang:
                    await Task.Delay(Timeout.InfiniteTimeSpan, _options.TimeProvider, cancellation);
                    return;
                case FakeReplyKind.Error:
                    await WriteScriptedErrorAsync(http, Dialect.OpenAI, reply);
                    return;
            }

            if (reply.CutOffAfterChunks is not null)
            {
                http.Response.ContentType = FakeHttp.JsonContentType;
                await http.Response.StartAsync(cancellation);
                throw new InvalidOperationException("The fake provider cut the response off as scripted.");
            }

            using var buffer = new PooledBufferWriter(1024);
            using (var w = new Utf8JsonWriter(buffer, FakeHttp.WriterOptions))
            {
                OpenAIEmbeddingsWire.Write(w, parsed, reply.Usage?.InputTokens ?? parsed.Tokens);
            }

            await FakeHttp.WriteJsonAsync(http, StatusCodes.Status200OK, buffer.WrittenSpan.ToArray(), cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            if (http.RequestAborted.IsCancellationRequested)
            {
                recorded?.MarkCancelled();
            }
            else
            {
                http.Abort();
            }
        }
    }

    /// <summary>
    /// Answers an OpenAI image generation request (<see cref="OpenAIImagesWire"/>): 401 without a bearer key, OpenAI's 400s for
    /// what the API reference rejects, else the next scripted reply like a chat request (an error or hang acts as for chat, a
    /// cut-off sends headers and drops the body, any other reply is the images).
    /// </summary>
    private async Task ImagesAsync(HttpContext http, RequestBody body, ChatRequestFields fields, RecordedRequest? recorded)
    {
        if (!http.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.Ordinal))
        {
            await WriteErrorAsync(http, Dialect.OpenAI, StatusCodes.Status401Unauthorized,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
            return;
        }

        var parsed = OpenAIImagesWire.Parse(body.Span);
        if (parsed.Error is { } invalid)
        {
            using var error = new PooledBufferWriter(256);
            using (var w = new Utf8JsonWriter(error, FakeHttp.WriterOptions))
            {
                OpenAIWire.WriteError(w, invalid, "invalid_request_error", parsed.Code);
            }

            await FakeHttp.WriteJsonAsync(http, StatusCodes.Status400BadRequest, error.WrittenSpan.ToArray(), http.RequestAborted);
            return;
        }

        var reply = NextReply(http, body, fields, recorded);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, _stopping);
        var cancellation = linked.Token;
        try
        {
            var latency = reply.Latency ?? _options.Latency;
            if (latency > TimeSpan.Zero)
            {
                await Task.Delay(latency, _options.TimeProvider, cancellation);
            }

            FakeHttp.AddHeaders(http.Response, reply.Headers);
            switch (reply.Kind)
            {
                case FakeReplyKind.Hang:
                    await Task.Delay(Timeout.InfiniteTimeSpan, _options.TimeProvider, cancellation);
                    return;
                case FakeReplyKind.Error:
                    await WriteScriptedErrorAsync(http, Dialect.OpenAI, reply);
                    return;
            }

            if (reply.CutOffAfterChunks is not null)
            {
                http.Response.ContentType = FakeHttp.JsonContentType;
                await http.Response.StartAsync(cancellation);
                throw new InvalidOperationException("The fake provider cut the response off as scripted.");
            }

            using var buffer = new PooledBufferWriter(1024);
            using (var w = new Utf8JsonWriter(buffer, FakeHttp.WriterOptions))
            {
                OpenAIImagesWire.Write(w, parsed, _options.TimeProvider.GetUtcNow().ToUnixTimeSeconds(), reply.Usage?.InputTokens);
            }

            await FakeHttp.WriteJsonAsync(http, StatusCodes.Status200OK, buffer.WrittenSpan.ToArray(), cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            if (http.RequestAborted.IsCancellationRequested)
            {
                recorded?.MarkCancelled();
            }
            else
            {
                http.Abort();
            }
        }
    }

    /// <summary>Answers the documented 401/400 errors of the Messages API; true when the request was rejected.</summary>
    private static async ValueTask<bool> RejectAnthropicAsync(HttpContext http, ChatRequestFields fields, bool requireMaxTokens)
    {
        // Anthropic takes the key as x-api-key or, since SDK 13, as Authorization: Bearer; any value is accepted.
        var headers = http.Request.Headers;
        if (!headers.ContainsKey("x-api-key") && !headers.ContainsKey("authorization"))
        {
            await WriteErrorAsync(http, Dialect.Anthropic, StatusCodes.Status401Unauthorized, "x-api-key header is required");
            return true;
        }

        string? problem = !fields.IsJson ? "Request body is not valid JSON."
            : fields.Model is null ? "model: Field required"
            : requireMaxTokens && !fields.HasMaxTokens ? "max_tokens: Field required"
            : null;
        if (problem is null)
        {
            return false;
        }

        await WriteErrorAsync(http, Dialect.Anthropic, StatusCodes.Status400BadRequest, problem);
        return true;
    }

    private async Task ChatAsync(HttpContext http, Dialect dialect, RequestBody body, ChatRequestFields fields, RecordedRequest? recorded)
    {
        if (dialect == Dialect.Anthropic)
        {
            if (await RejectAnthropicAsync(http, fields, requireMaxTokens: true))
            {
                return;
            }
        }
        else if (!fields.IsJson || fields.Model is null)
        {
            var message = fields.IsJson
                ? "you must provide a model parameter"
                : "We could not parse the JSON body of your request.";
            await WriteErrorAsync(http, dialect, StatusCodes.Status400BadRequest, message);
            return;
        }

        var reply = NextReply(http, body, fields, recorded);
        var sequence = Interlocked.Increment(ref _sequence);

        // One token for both reasons to stop waiting: the client aborting, or the server shutting down.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, _stopping);
        using var exchange = new ChatExchange(http, _options, reply, fields.Model!, fields.IncludeUsage, body.Length, sequence, linked.Token);
        ReplyOutcome outcome;
        try
        {
            outcome = await AnswerAsync(exchange, dialect, fields.Stream);
        }
        catch (OperationCanceledException)
        {
            outcome = ReplyOutcome.ClientGone;
        }
        catch (IOException)
        {
            outcome = ReplyOutcome.ClientGone;
        }

        switch (outcome)
        {
            case ReplyOutcome.ClientGone when http.RequestAborted.IsCancellationRequested:
                recorded?.MarkCancelled();
                break;
            case ReplyOutcome.ClientGone:
                // The server is stopping.
                http.Abort();
                break;
            case ReplyOutcome.CutOff:
                // HttpContext.Abort() would reset the socket and could discard bytes already flushed. An
                // exception after the response started makes Kestrel close the connection gracefully instead,
                // without the final chunk: the client gets everything written so far, then a premature end.
                throw new InvalidOperationException("The fake provider cut the response off as scripted.");
        }
    }

    /// <summary>The queue first, then the responder, then the default reply.</summary>
    private FakeReply NextReply(HttpContext http, in RequestBody body, in ChatRequestFields fields, RecordedRequest? recorded)
    {
        if (_server.TryDequeue(out var queued))
        {
            return queued;
        }

        if (_server.Script.TryTake(body.Span, out var scripted))
        {
            return scripted;
        }

        var responder = _server.Responder;
        if (responder is null)
        {
            return _server.DefaultReply;
        }

        // With recording off the responder still gets a full view of the request; it is just not kept.
        return responder(recorded ?? CreateRecord(http, body, fields, _options.TimeProvider))
            ?? throw new InvalidOperationException("FakeProviderServer.Responder returned null.");
    }

    private async Task<ReplyOutcome> AnswerAsync(ChatExchange x, Dialect dialect, bool stream)
    {
        var reply = x.Reply;
        var latency = reply.Latency ?? _options.Latency;
        if (latency > TimeSpan.Zero)
        {
            await Task.Delay(latency, x.TimeProvider, x.Cancellation);
        }

        FakeHttp.AddHeaders(x.Http.Response, reply.Headers);
        switch (reply.Kind)
        {
            case FakeReplyKind.Hang:
                await Task.Delay(Timeout.InfiniteTimeSpan, x.TimeProvider, x.Cancellation);
                return ReplyOutcome.ClientGone;
            case FakeReplyKind.Error:
                await WriteScriptedErrorAsync(x.Http, dialect, reply);
                return ReplyOutcome.Completed;
        }

        if (!stream && reply.CutOffAfterChunks is not null)
        {
            // A non-streaming cut-off: the headers arrive, the body never does.
            x.Http.Response.ContentType = FakeHttp.JsonContentType;
            await x.Http.Response.StartAsync(x.Cancellation);
            return ReplyOutcome.CutOff;
        }

        return (dialect, stream) switch
        {
            (Dialect.OpenAI, false) => await OpenAIWire.WriteCompletionAsync(x),
            (Dialect.OpenAI, true) => await OpenAIWire.StreamCompletionAsync(x),
            (Dialect.Anthropic, false) => await AnthropicWire.WriteMessageAsync(x),
            _ => await AnthropicWire.StreamMessageAsync(x),
        };
    }

    private static ValueTask<bool> WriteScriptedErrorAsync(HttpContext http, Dialect dialect, FakeReply reply)
    {
        if (reply.ErrorBody is not null)
        {
            return FakeHttp.WriteJsonAsync(http, reply.StatusCode, System.Text.Encoding.UTF8.GetBytes(reply.ErrorBody), http.RequestAborted);
        }

        var message = reply.StatusCode == StatusCodes.Status429TooManyRequests
            ? "Rate limit reached. Please try again later."
            : $"Scripted error from the fake provider (HTTP {reply.StatusCode}).";
        return WriteErrorAsync(http, dialect, reply.StatusCode, message);
    }

    private static ValueTask<bool> WriteErrorAsync(HttpContext http, Dialect dialect, int status, string message)
    {
        using var buffer = new PooledBufferWriter(256);
        using (var w = new Utf8JsonWriter(buffer, FakeHttp.WriterOptions))
        {
            if (dialect == Dialect.Anthropic)
            {
                AnthropicWire.WriteError(w, AnthropicWire.ErrorType(status), message);
            }
            else
            {
                var (type, code) = OpenAIWire.ErrorKind(status);
                OpenAIWire.WriteError(w, message, type, code);
            }
        }

        return FakeHttp.WriteJsonAsync(http, status, buffer.WrittenSpan.ToArray(), http.RequestAborted);
    }
}
