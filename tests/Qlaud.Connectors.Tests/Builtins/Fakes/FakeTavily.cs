using System.Collections.Concurrent;
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
/// Tavily's <c>POST /search</c> on Kestrel at 127.0.0.1, as Tavily documents it: <c>Authorization: Bearer tvly-…</c>, a JSON
/// body (<c>query</c> required; <c>max_results</c> 0–20; <c>search_depth</c> basic, advanced, fast or ultra-fast). A missing or
/// wrong key is a 401, a bad body a 400, both as Tavily's <c>{"detail":{"error":…}}</c>. Answers are Tavily's search shape;
/// scripted failures (<see cref="FailNext"/>, including 432/433 plan limits) come first.
/// </summary>
public sealed class FakeTavily : IAsyncDisposable
{
    private static readonly HashSet<string> KnownFields = ["query", "max_results", "search_depth", "topic", "include_answer", "include_raw_content",
        "include_images", "include_domains", "exclude_domains", "time_range", "days", "chunks_per_source", "country", "auto_parameters"];

    private readonly WebApplication _app;
    private readonly string _key;
    private readonly ConcurrentQueue<Recorded> _requests = new();
    private readonly ConcurrentQueue<(int Status, string? RetryAfter)> _failures = new();

    private FakeTavily(WebApplication app, string key)
    {
        _app = app;
        _key = key;
    }

    /// <summary>The base URL (<c>http://127.0.0.1:{port}</c>), for <c>Qlaud:Builtins:web_search:TavilyBaseUrl</c>.</summary>
    public string Url { get; private set; } = "";

    /// <summary>Every request in arrival order, also refused ones.</summary>
    public IReadOnlyList<Recorded> Requests => [.. _requests];

    /// <summary>The next request(s) answer <paramref name="status"/> in Tavily's error shape, with <c>Retry-After</c> when given.</summary>
    public void FailNext(int status, string? retryAfter = null, int times = 1)
    {
        for (int i = 0; i < times; i++)
        {
            _failures.Enqueue((status, retryAfter));
        }
    }

    public static async Task<FakeTavily> StartAsync(string key)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var self = new FakeTavily(app, key);
        app.MapPost("/search", self.SearchAsync);
        await app.StartAsync();
        self.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return self;
    }

    private async Task SearchAsync(HttpContext context)
    {
        var request = context.Request;
        using var reader = new StreamReader(request.Body);
        string body = await reader.ReadToEndAsync();
        _requests.Enqueue(new Recorded(request.Method, request.Path + request.QueryString,
            request.Headers.ToDictionary(static h => h.Key, static h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body));

        if (request.Headers.Authorization.ToString() != "Bearer " + _key)
        {
            await ErrorAsync(context, 401, "Unauthorized: missing or invalid API key.");
            return;
        }

        if (_failures.TryDequeue(out var failure))
        {
            if (failure.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = failure.RetryAfter;
            }

            await ErrorAsync(context, failure.Status, failure.Status switch
            {
                429 => "Your request has been blocked due to excessive requests. Please reduce rate of requests.",
                432 => "This request exceeds your plan's set usage limit. Please upgrade your plan or contact support@tavily.com",
                433 => "This request exceeds the pay-as-you-go limit. You can increase your limit on the Tavily dashboard.",
                _ => "Internal Server Error",
            });
            return;
        }

        string? query = null;
        int maxResults = 5;
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            bool ok = request.ContentType?.StartsWith("application/json", StringComparison.Ordinal) == true
                && root.ValueKind == JsonValueKind.Object
                && root.EnumerateObject().All(static p => KnownFields.Contains(p.Name))
                && root.TryGetProperty("query", out var q) && q.ValueKind == JsonValueKind.String && q.GetString()!.Length > 0
                && (!root.TryGetProperty("max_results", out var m) || (m.TryGetInt32(out maxResults) && maxResults is >= 0 and <= 20))
                && (!root.TryGetProperty("search_depth", out var d) || d.GetString() is "basic" or "advanced" or "fast" or "ultra-fast");
            if (ok)
            {
                query = root.GetProperty("query").GetString();
            }
        }
        catch (JsonException)
        {
        }

        if (query is null)
        {
            await ErrorAsync(context, 400, "Invalid request body.");
            return;
        }

        await context.Response.WriteAsJsonAsync(new
        {
            query,
            follow_up_questions = (string[]?)null,
            answer = (string?)null,
            images = Array.Empty<string>(),
            results = Enumerable.Range(1, maxResults).Select(i => new
            {
                url = $"https://example.org/{i}",
                title = $"Tavily result {i} for {query}",
                content = $"Content {i} about {query}.",
                score = 0.9 - (i * 0.01),
                raw_content = (string?)null,
            }),
            response_time = 1.67,
            request_id = Guid.NewGuid().ToString(),
        });
    }

    private static async Task ErrorAsync(HttpContext context, int status, string error)
    {
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new { detail = new { error } });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>One request as it arrived.</summary>
    public sealed record Recorded(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers, string Body);
}
