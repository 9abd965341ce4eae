using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Qlaud.Connectors.Tests.Builtins.Fakes;

/// <summary>
/// A vendor API for the builtin tools' tests: a real Kestrel on 127.0.0.1 (port 0) that records every request (method, path,
/// query, headers, body) and answers with a vendor's behaviour (a <see cref="Func{T, TResult}"/> that checks authentication and
/// the body as the vendor documents them and answers in its shapes) unless a scripted reply is queued (<see cref="Enqueue"/>):
/// a 401, a 429 with <c>Retry-After</c>, a 5xx, whatever a test needs next.
/// </summary>
public sealed class FakeVendorServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<VendorRequest> _requests = new();
    private readonly ConcurrentQueue<VendorResponse> _scripted = new();
    private readonly Func<VendorRequest, VendorResponse> _behaviour;

    private FakeVendorServer(WebApplication app, Func<VendorRequest, VendorResponse> behaviour)
    {
        _app = app;
        _behaviour = behaviour;
    }

    /// <summary>The root URL, <c>http://127.0.0.1:{port}</c> (no trailing slash).</summary>
    public string Url { get; private set; } = "";

    /// <summary>The requests received, in arrival order.</summary>
    public IReadOnlyList<VendorRequest> Requests => [.. _requests];

    /// <summary>Starts a vendor whose every request is answered by <paramref name="behaviour"/> unless a reply is queued.</summary>
    public static async Task<FakeVendorServer> StartAsync(Func<VendorRequest, VendorResponse> behaviour)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var self = new FakeVendorServer(app, behaviour);
        app.Run(self.HandleAsync);
        await app.StartAsync();
        self.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return self;
    }

    /// <summary>Answers the next request(s) with <paramref name="responses"/>, in order, before the behaviour answers again.</summary>
    public void Enqueue(params VendorResponse[] responses)
    {
        foreach (var response in responses)
        {
            _scripted.Enqueue(response);
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        string body = await reader.ReadToEndAsync(context.RequestAborted);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in context.Request.Headers)
        {
            headers[header.Key] = header.Value.ToString();
        }

        string target = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? "";
        var request = new VendorRequest(context.Request.Method, context.Request.Path.Value ?? "", context.Request.QueryString.Value ?? "", headers, body, target);
        _requests.Enqueue(request);
        var response = _scripted.TryDequeue(out var scripted) ? scripted : _behaviour(request);
        context.Response.StatusCode = response.Status;
        foreach (var (name, value) in response.Headers ?? new Dictionary<string, string>())
        {
            context.Response.Headers[name] = value;
        }

        if (response.Body is not null)
        {
            context.Response.ContentType ??= "application/json; charset=utf-8";
            await context.Response.WriteAsync(response.Body, context.RequestAborted);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A request the fake vendor received.</summary>
/// <param name="RawTarget">The request target exactly as sent (path and query, still escaped).</param>
public sealed record VendorRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, string Body, string RawTarget)
{
    /// <summary>A header's value, or null.</summary>
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    /// <summary>The body parsed as JSON.</summary>
    public JsonElement Json()
    {
        using var document = JsonDocument.Parse(Body);
        return document.RootElement.Clone();
    }

    /// <summary>A query parameter's decoded value, or null.</summary>
    public string? QueryValue(string name) => Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(Query).TryGetValue(name, out var value) ? value.ToString() : null;
}

/// <summary>What the fake vendor answers.</summary>
public sealed record VendorResponse(int Status, string? Body = null, IReadOnlyDictionary<string, string>? Headers = null)
{
    /// <summary>A JSON answer.</summary>
    public static VendorResponse Json(int status, string body, IReadOnlyDictionary<string, string>? headers = null) => new(status, body, headers);

    /// <summary>A 429 with <c>Retry-After: {seconds}</c> and the vendor's body.</summary>
    public static VendorResponse RateLimited(int seconds, string? body = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        var all = new Dictionary<string, string>(headers ?? new Dictionary<string, string>()) { ["Retry-After"] = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        return new VendorResponse(429, body, all);
    }
}
