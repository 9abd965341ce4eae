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
/// The Brave Search API's web search on Kestrel at 127.0.0.1: <c>GET /res/v1/web/search?q=…&amp;count=…</c> with the key in
/// <c>X-Subscription-Token</c> and <c>Accept: application/json</c>, as Brave documents it. A missing or wrong token is a 401
/// <c>SUBSCRIPTION_TOKEN_INVALID</c>, a bad <c>q</c> or <c>count</c> (empty, over 400 characters or 50 words, count outside 1–20)
/// a 422 <c>VALIDATION</c>, both in Brave's <c>ErrorResponse</c> envelope. Answers are Brave's <c>search</c> shape with
/// <c>&lt;strong&gt;</c>-highlighted descriptions; scripted failures (<see cref="FailNext"/>) come first.
/// </summary>
public sealed class FakeBraveSearch : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _key;
    private readonly ConcurrentQueue<Recorded> _requests = new();
    private readonly ConcurrentQueue<(int Status, string? RetryAfter)> _failures = new();

    private FakeBraveSearch(WebApplication app, string key)
    {
        _app = app;
        _key = key;
    }

    /// <summary>The base URL (<c>http://127.0.0.1:{port}</c>), for <c>Qlaud:Builtins:web_search:BaseUrl</c>.</summary>
    public string Url { get; private set; } = "";

    /// <summary>Every request in arrival order, also refused ones.</summary>
    public IReadOnlyList<Recorded> Requests => [.. _requests];

    /// <summary>How long each answer waits before it is sent (default none).</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>The next request(s) answer <paramref name="status"/> (Brave's error envelope), with <c>Retry-After</c> when given.</summary>
    public void FailNext(int status, string? retryAfter = null, int times = 1)
    {
        for (int i = 0; i < times; i++)
        {
            _failures.Enqueue((status, retryAfter));
        }
    }

    public static async Task<FakeBraveSearch> StartAsync(string key)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var self = new FakeBraveSearch(app, key);
        app.MapMethods("/res/v1/web/search", ["GET", "POST"], self.SearchAsync);
        await app.StartAsync();
        self.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return self;
    }

    private async Task SearchAsync(HttpContext context)
    {
        var request = context.Request;
        _requests.Enqueue(new Recorded(request.Method, request.Path + request.QueryString,
            request.Headers.ToDictionary(static h => h.Key, static h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));

        if (request.Headers["X-Subscription-Token"].ToString() != _key)
        {
            await ErrorAsync(context, 401, "SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid.");
            return;
        }

        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, context.RequestAborted);
        }

        if (_failures.TryDequeue(out var failure))
        {
            if (failure.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = failure.RetryAfter;
            }

            context.Response.Headers["X-RateLimit-Limit"] = "1, 15000";
            context.Response.Headers["X-RateLimit-Reset"] = "1, 1419704";
            var (code, detail) = failure.Status switch
            {
                429 => ("RATE_LIMITED", "Request rate limit exceeded for plan."),
                _ => ("INTERNAL_SERVER_ERROR", "An unexpected error occurred."),
            };
            await ErrorAsync(context, failure.Status, code, detail);
            return;
        }

        if (request.Method != "GET" || request.Headers.Accept.ToString() != "application/json")
        {
            await ErrorAsync(context, 422, "VALIDATION", "Unable to validate request parameter(s).");
            return;
        }

        string q = request.Query["q"].ToString();
        string countText = request.Query["count"].ToString();
        int count = 20;
        if (q.Length == 0 || q.Length > 400 || q.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length > 50
            || (countText.Length > 0 && !(int.TryParse(countText, out count) && count is >= 1 and <= 20))
            || request.Query.Keys.Except(["q", "count"]).Any())
        {
            await ErrorAsync(context, 422, "VALIDATION", "Unable to validate request parameter(s).");
            return;
        }

        context.Response.Headers["X-RateLimit-Limit"] = "1, 15000";
        context.Response.Headers["X-RateLimit-Remaining"] = "0, 14999";
        context.Response.Headers["X-RateLimit-Reset"] = "1, 1419704";
        await context.Response.WriteAsJsonAsync(new
        {
            type = "search",
            query = new { original = q, show_strict_warning = false, is_navigational = false, spellcheck_off = true, country = "us", more_results_available = true },
            mixed = new { type = "mixed", main = Enumerable.Range(0, count).Select(static i => new { type = "web", index = i, all = false }) },
            web = new
            {
                type = "search",
                family_friendly = true,
                results = Enumerable.Range(1, count).Select(i => new
                {
                    title = $"Result {i} for {q} &amp; more",
                    url = $"https://example.com/{i}",
                    is_source_local = false,
                    is_source_both = false,
                    description = $"The <strong>{q}</strong> page number {i}, with &quot;quotes&quot;.",
                    profile = new { name = "Example", url = $"https://example.com/{i}", long_name = "example.com", img = "https://imgs.search.brave.com/x.png" },
                    language = "en",
                    family_friendly = true,
                    type = "search_result",
                    subtype = "generic",
                    meta_url = new { scheme = "https", netloc = "example.com", hostname = "example.com", favicon = "https://imgs.search.brave.com/f.png", path = $"› {i}" },
                    extra_snippets = new[] { "An extra snippet." },
                }),
            },
        });
    }

    private static async Task ErrorAsync(HttpContext context, int status, string code, string detail)
    {
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new
        {
            type = "ErrorResponse",
            error = new { id = Guid.NewGuid().ToString(), status, code, detail, meta = new { component = "api" } },
            time = 1733558400,
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>One request as it arrived.</summary>
    public sealed record Recorded(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers);
}
