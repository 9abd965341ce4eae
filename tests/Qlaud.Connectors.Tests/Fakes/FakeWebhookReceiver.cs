using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Qlaud.Connectors.Tests.Fakes;

/// <summary>An app's webhook tool endpoint on Kestrel at 127.0.0.1: records every delivery (headers and body), verifies
/// <c>Qlaud-Signature</c> the way the README tells apps to, and answers with scripted statuses (200 with <see cref="Answer"/> by default).</summary>
public sealed class FakeWebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Delivery> _deliveries = new();
    private readonly ConcurrentQueue<int> _statuses = new();

    private FakeWebhookReceiver(WebApplication app) => _app = app;

    /// <summary>The tool URL, <c>http://127.0.0.1:{port}/tools/lookup</c>.</summary>
    public string Url { get; private set; } = "";

    /// <summary>The secret deliveries are verified with (set it once the tool is registered).</summary>
    public string? Secret { get; set; }

    /// <summary>The body of a 200 answer.</summary>
    public string Answer { get; set; } = """{"status":"shipped","eta":"tomorrow"}""";

    public IReadOnlyList<Delivery> Deliveries => [.. _deliveries];

    /// <summary>The next deliveries are answered with these statuses, in order (then 200).</summary>
    public void AnswerWith(params int[] statuses)
    {
        foreach (int status in statuses)
        {
            _statuses.Enqueue(status);
        }
    }

    public static async Task<FakeWebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new FakeWebhookReceiver(app);
        app.MapPost("/tools/lookup", receiver.HandleAsync);
        await app.StartAsync();
        receiver.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/tools/lookup";
        return receiver;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        string body = await reader.ReadToEndAsync();
        string signature = context.Request.Headers["Qlaud-Signature"].ToString();
        _deliveries.Enqueue(new Delivery(body, signature, context.Request.Headers["Idempotency-Key"].ToString(), context.Request.ContentType,
            Secret is not null && Verify(Secret, signature, body)));
        int status = _statuses.TryDequeue(out int s) ? s : 200;
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(status == 200 ? Answer : """{"error":"try later"}""");
    }

    /// <summary>The README's verification: split <c>t=…,v1=…</c>, HMAC-SHA256 of <c>"{t}.{body}"</c> keyed by the secret, compare in constant time.</summary>
    public static bool Verify(string secret, string header, string body)
    {
        string? t = null, v1 = null;
        foreach (var part in header.Split(','))
        {
            var kv = part.Split('=', 2);
            if (kv.Length == 2 && kv[0] == "t") t = kv[1];
            if (kv.Length == 2 && kv[0] == "v1") v1 = kv[1];
        }

        if (t is null || v1 is null)
        {
            return false;
        }

        byte[] expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(t + "." + body));
        return CryptographicOperations.FixedTimeEquals(expected, Convert.FromHexString(v1));
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    /// <summary>One delivery.</summary>
    public sealed record Delivery(string Body, string Signature, string IdempotencyKey, string? ContentType, bool SignatureValid);
}
