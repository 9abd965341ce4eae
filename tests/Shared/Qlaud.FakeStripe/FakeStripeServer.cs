using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Qlaud.FakeStripe;

/// <summary>
/// A fake Stripe API on Kestrel at 127.0.0.1: <c>POST /v1/checkout/sessions</c> and <c>GET /v1/checkout/sessions/{id}</c>,
/// answered with Stripe-shaped JSON, plus helpers that play the payer (<see cref="CompleteSession"/>,
/// <see cref="Refund"/>) and return the objects Stripe would put in webhook events.
/// </summary>
/// <remarks>
/// <para>Like Stripe: requests need <c>Authorization: Bearer sk_…</c> (401 otherwise, or for a key other than
/// <see cref="ExpectedSecretKey"/> when set); a repeated <c>Idempotency-Key</c> with the same form replays the first answer
/// with <c>Idempotent-Replayed: true</c>, with another form it is a 400 <c>idempotency_error</c>; missing or malformed
/// parameters are 400 <c>invalid_request_error</c> with <c>param</c>; an unknown session is 404 <c>resource_missing</c>.</para>
/// <para>Every request is recorded in <see cref="Requests"/>. <see cref="EnqueueError"/> scripts the next answers.</para>
/// </remarks>
public sealed class FakeStripeServer : IAsyncDisposable
{
    private readonly ConcurrentQueue<FakeStripeError> _errors = new();
    private readonly ConcurrentDictionary<string, FakeStripeSession> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Form, int Status, string Body)> _idempotent = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly List<FakeStripeRequest> _requests = [];
    private WebApplication? _app;

    private FakeStripeServer()
    {
    }

    /// <summary>The root address, for example <c>http://127.0.0.1:54321</c>: the client's API base URL.</summary>
    public Uri BaseUri { get; private set; } = null!;

    /// <summary>When set, only this secret key is accepted.</summary>
    public string? ExpectedSecretKey { get; set; }

    /// <summary>A snapshot of the requests received so far, oldest first.</summary>
    public IReadOnlyList<FakeStripeRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>The sessions created so far.</summary>
    public IReadOnlyCollection<FakeStripeSession> Sessions => [.. _sessions.Values];

    /// <summary>Starts the fake and returns once it is listening.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<FakeStripeServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var server = new FakeStripeServer();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(FakeStripeServer).Assembly.GetName().Name });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(static kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, 0);
        });
        builder.Services.AddSingleton<IHostLifetime, PassiveHostLifetime>();
        var app = builder.Build();
        app.Run(server.HandleAsync);
        server._app = app;
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        server.BaseUri = new Uri(address, UriKind.Absolute);
        return server;
    }

    /// <summary>Answers the next API request (after authentication) with <paramref name="error"/> instead of handling it.</summary>
    /// <param name="error">The status and Stripe error body.</param>
    public void EnqueueError(FakeStripeError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        _errors.Enqueue(error);
    }

    /// <summary>The session with <paramref name="id"/>.</summary>
    /// <param name="id">A <c>cs_test_…</c> id the fake created.</param>
    public FakeStripeSession Session(string id) => _sessions.TryGetValue(id, out var session) ? session : throw new KeyNotFoundException($"No session {id}.");

    /// <summary>Creates a session directly, as another application sharing the Stripe account would.</summary>
    /// <param name="form">The session's form fields (<c>line_items[0][price_data][unit_amount]</c> and <c>[currency]</c> at least).</param>
    public FakeStripeSession AddSession(IReadOnlyDictionary<string, string> form)
    {
        ArgumentNullException.ThrowIfNull(form);
        var session = new FakeStripeSession(NewId("cs_test_"), new Dictionary<string, string>(form, StringComparer.Ordinal), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        _sessions[session.Id] = session;
        return session;
    }

    /// <summary>Plays the payer: the session completes, and the JSON of the Checkout Session object a
    /// <c>checkout.session.completed</c> event carries is returned.</summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="paymentStatus"><c>paid</c>, or <c>unpaid</c> for a delayed payment method (paid later by
    /// <see cref="SucceedAsyncPayment"/>).</param>
    /// <param name="amountPaid">What was actually charged in cents (after a discount, say); the line item's amount by default.</param>
    public string CompleteSession(string sessionId, string paymentStatus = "paid", long? amountPaid = null)
    {
        var session = Session(sessionId);
        session.Status = "complete";
        session.PaymentStatus = paymentStatus;
        session.PaymentIntentId ??= NewId("pi_test_");
        session.ChargeId ??= NewId("ch_test_");
        session.AmountPaid = amountPaid ?? session.AmountTotal;
        return RenderSession(session);
    }

    /// <summary>A delayed payment succeeded: the JSON of the session a <c>checkout.session.async_payment_succeeded</c> event carries.</summary>
    /// <param name="sessionId">A session completed with <c>unpaid</c>.</param>
    public string SucceedAsyncPayment(string sessionId)
    {
        var session = Session(sessionId);
        session.PaymentStatus = "paid";
        return RenderSession(session);
    }

    /// <summary>Refunds part of a paid session's charge: the JSON of the charge a <c>charge.refunded</c> event carries, with the
    /// cumulative <c>amount_refunded</c> and the metadata Stripe copied from the PaymentIntent.</summary>
    /// <param name="sessionId">A completed session.</param>
    /// <param name="amountCents">This refund's amount in cents.</param>
    public string Refund(string sessionId, long amountCents)
    {
        var session = Session(sessionId);
        if (session.ChargeId is null || session.AmountRefunded + amountCents > session.AmountPaid)
        {
            throw new InvalidOperationException("Refund of more than was charged, or of an unpaid session.");
        }

        session.AmountRefunded += amountCents;
        return RenderCharge(session);
    }

    /// <summary>The JSON of the session as <c>GET /v1/checkout/sessions/{id}</c> would return it now.</summary>
    /// <param name="sessionId">The session.</param>
    public string SessionJson(string sessionId) => RenderSession(Session(sessionId));

    /// <summary>Forgets recorded requests.</summary>
    public void ClearRequests()
    {
        lock (_gate)
        {
            _requests.Clear();
        }
    }

    /// <summary>Stops the fake.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }

        var form = new Dictionary<string, string>(StringComparer.Ordinal);
        if (request.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) == true)
        {
            foreach (var (key, value) in Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery("?" + body))
            {
                form[key] = value.ToString();
            }
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in request.Headers)
        {
            headers[name] = value.ToString();
        }

        string path = request.Path + request.QueryString;
        lock (_gate)
        {
            _requests.Add(new FakeStripeRequest(request.Method, path, headers, form, body));
        }

        var (status, json) = Answer(request.Method, request.Path.Value ?? "", headers, form, body, context.Response);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers["Request-Id"] = NewId("req_");
        await context.Response.WriteAsync(json, context.RequestAborted);
    }

    private (int Status, string Json) Answer(string method, string path, Dictionary<string, string> headers, Dictionary<string, string> form, string body, HttpResponse response)
    {
        string authorization = headers.GetValueOrDefault("Authorization", "");
        if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal) || authorization.Length <= 7)
        {
            return Error(new FakeStripeError(401, "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."));
        }

        string key = authorization[7..];
        if (!key.StartsWith("sk_", StringComparison.Ordinal) && !key.StartsWith("rk_", StringComparison.Ordinal)
            || (ExpectedSecretKey is not null && key != ExpectedSecretKey))
        {
            return Error(new FakeStripeError(401, "invalid_request_error", $"Invalid API Key provided: {Redact(key)}", "api_key_invalid"));
        }

        if (_errors.TryDequeue(out var scripted))
        {
            if (scripted.ShouldRetry is { } retry)
            {
                response.Headers["Stripe-Should-Retry"] = retry ? "true" : "false";
            }

            return Error(scripted);
        }

        if (method == "POST" && path == "/v1/checkout/sessions")
        {
            if (headers.TryGetValue("Idempotency-Key", out var idempotencyKey))
            {
                // Stripe scopes idempotency keys to the account (here: the API key) and replays the first answer.
                string scope = key + "\n" + idempotencyKey;
                lock (_idempotent)
                {
                    if (_idempotent.TryGetValue(scope, out var earlier))
                    {
                        return earlier.Form == body
                            ? (earlier.Status, earlier.Body)
                            : Error(new FakeStripeError(400, "idempotency_error",
                                $"Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{idempotencyKey}' if you meant to execute a different request."));
                    }

                    var answer = CreateSession(form);
                    _idempotent[scope] = (body, answer.Status, answer.Json);
                    return answer;
                }
            }

            return CreateSession(form);
        }

        const string sessionsPrefix = "/v1/checkout/sessions/";
        if (method == "GET" && path.StartsWith(sessionsPrefix, StringComparison.Ordinal))
        {
            string id = Uri.UnescapeDataString(path[sessionsPrefix.Length..]);
            return _sessions.TryGetValue(id, out var session)
                ? (200, RenderSession(session))
                : Error(new FakeStripeError(404, "invalid_request_error", $"No such checkout.session: '{id}'", "resource_missing", "session"));
        }

        return Error(new FakeStripeError(404, "invalid_request_error", $"Unrecognized request URL ({method}: {path}).", "resource_missing"));
    }

    private (int Status, string Json) CreateSession(Dictionary<string, string> form)
    {
        if (form.GetValueOrDefault("mode") is not ("payment" or "subscription" or "setup"))
        {
            return Error(new FakeStripeError(400, "invalid_request_error", "Missing required param: mode.", "parameter_missing", "mode"));
        }

        if (!form.TryGetValue("line_items[0][price_data][currency]", out _))
        {
            return Error(new FakeStripeError(400, "invalid_request_error", "Missing required param: line_items[0][price_data][currency].", "parameter_missing", "line_items[0][price_data][currency]"));
        }

        if (!long.TryParse(form.GetValueOrDefault("line_items[0][price_data][unit_amount]"), NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return Error(new FakeStripeError(400, "invalid_request_error", "Invalid integer: line_items[0][price_data][unit_amount]", "parameter_invalid_integer", "line_items[0][price_data][unit_amount]"));
        }

        if (!form.ContainsKey("line_items[0][price_data][product_data][name]"))
        {
            return Error(new FakeStripeError(400, "invalid_request_error", "Missing required param: line_items[0][price_data][product_data][name].", "parameter_missing", "line_items[0][price_data][product_data][name]"));
        }

        foreach (var urlParam in (ReadOnlySpan<string>)["success_url", "cancel_url"])
        {
            if (form.TryGetValue(urlParam, out var url) && !Uri.TryCreate(url, UriKind.Absolute, out _))
            {
                return Error(new FakeStripeError(400, "invalid_request_error", "Not a valid URL", "url_invalid", urlParam));
            }
        }

        var session = new FakeStripeSession(NewId("cs_test_"), form, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        _sessions[session.Id] = session;
        return (200, RenderSession(session));
    }

    private string RenderSession(FakeStripeSession session)
    {
        var form = session.Form;
        return Render(w =>
        {
            w.WriteString("id", session.Id);
            w.WriteString("object", "checkout.session");
            w.WriteNumber("amount_subtotal", session.AmountTotal);
            w.WriteNumber("amount_total", session.AmountPaid ?? session.AmountTotal);
            WriteStringOrNull(w, "cancel_url", form.GetValueOrDefault("cancel_url"));
            WriteStringOrNull(w, "client_reference_id", form.GetValueOrDefault("client_reference_id"));
            w.WriteNumber("created", session.Created);
            w.WriteString("currency", session.Currency);
            w.WriteNumber("expires_at", session.Created + 24 * 3600);
            w.WriteBoolean("livemode", false);
            WriteMetadata(w, session.Metadata);
            w.WriteString("mode", form["mode"]);
            WriteStringOrNull(w, "payment_intent", session.PaymentIntentId);
            w.WriteString("payment_status", session.PaymentStatus);
            w.WriteString("status", session.Status);
            WriteStringOrNull(w, "success_url", form.GetValueOrDefault("success_url"));
            WriteStringOrNull(w, "url", session.Status == "open" ? $"{BaseUri}c/pay/{session.Id}" : null);
        });
    }

    private static string RenderCharge(FakeStripeSession session) => Render(w =>
    {
        long amount = session.AmountPaid ?? session.AmountTotal;
        w.WriteString("id", session.ChargeId);
        w.WriteString("object", "charge");
        w.WriteNumber("amount", amount);
        w.WriteNumber("amount_captured", amount);
        w.WriteNumber("amount_refunded", session.AmountRefunded);
        w.WriteBoolean("captured", true);
        w.WriteNumber("created", session.Created);
        w.WriteString("currency", session.Currency);
        w.WriteBoolean("livemode", false);
        WriteMetadata(w, session.PaymentIntentMetadata);
        w.WriteBoolean("paid", true);
        w.WriteString("payment_intent", session.PaymentIntentId);
        w.WriteBoolean("refunded", session.AmountRefunded == amount);
        w.WriteString("status", "succeeded");
    });

    private static (int Status, string Json) Error(FakeStripeError error) => (error.Status, Render(w =>
    {
        w.WriteStartObject("error");
        WriteStringOrNull(w, "code", error.Code);
        w.WriteString("message", error.Message);
        if (error.Param is not null)
        {
            w.WriteString("param", error.Param);
        }

        w.WriteString("type", error.Type);
        w.WriteEndObject();
    }));

    internal static string Render(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteMetadata(Utf8JsonWriter writer, IReadOnlyDictionary<string, string> metadata)
    {
        writer.WriteStartObject("metadata");
        foreach (var (key, value) in metadata)
        {
            writer.WriteString(key, value);
        }

        writer.WriteEndObject();
    }

    private static void WriteStringOrNull(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }

    private static string Redact(string key) => key.Length <= 12 ? "sk_****" : key[..8] + "****" + key[^4..];

    internal static string NewId(string prefix) => prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
}
