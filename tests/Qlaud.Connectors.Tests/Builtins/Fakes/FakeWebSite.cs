using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Qlaud.Connectors.Tests.Builtins.Fakes;

/// <summary>
/// A small web site on Kestrel at 127.0.0.1 for <c>web_fetch</c>: an HTML article with page chrome, a page too large for
/// Readability, a page built to be slow to parse, plain text, JSON, Latin-1 HTML, binary content (typed and untyped), redirect chains, a redirect to any URL,
/// a 64 MB body, a slow answer and a 404. Every request is recorded.
/// </summary>
public sealed class FakeWebSite : IAsyncDisposable
{
    public const string ArticleHtml = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>How the fox jumps | Animal Weekly</title>
        <script>window.tracking = "SCRIPT-SHOULD-NOT-APPEAR";</script><style>body { color: red; }</style></head>
        <body>
        <nav class="site-nav"><a href="/">Home</a> <a href="/about">About us</a> <a href="/contact">NAV-SHOULD-NOT-APPEAR</a></nav>
        <main><article>
        <h1>How the fox jumps</h1>
        <p>The quick brown fox jumps over the lazy dog. Foxes are agile animals, and their jumps have been studied by
        researchers for many years, with results that surprise people who watch them closely in the wild.</p>
        <p>Read the <a href="/docs/jumping?x=1">jumping guide</a> for <strong>more detail</strong> and <em>field notes</em>;
        the guide explains the run-up, the take-off and the landing, step by step, with photographs and diagrams.</p>
        <h2>What a fox needs</h2>
        <ul><li>A run-up of <code>3 m</code></li><li>Soft ground<ol><li>grass</li><li>snow</li></ol></li></ul>
        <pre><code class="language-python">def jump(fox):
            return fox.height * 2</code></pre>
        <table><thead><tr><th>Animal</th><th>Jump (m)</th></tr></thead><tbody><tr><td>Fox</td><td>2</td></tr><tr><td>Dog</td><td>1</td></tr></tbody></table>
        <blockquote><p>A fox never jumps twice over the same dog.</p></blockquote>
        <p><img src="/img/fox.png" alt="A fox in mid-air"> Photographs by the Animal Weekly staff, taken over three winters,
        in the hills and forests where the foxes live, with long lenses so that the animals were not disturbed.</p>
        </article></main>
        <footer>FOOTER-SHOULD-NOT-APPEAR Copyright Animal Weekly</footer>
        </body></html>
        """;

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Recorded> _requests = new();
    private long _largeBytesWritten;
    private int _largeEnded;
    private int _largeCompleted;

    private FakeWebSite(WebApplication app) => _app = app;

    /// <summary>The site's root, <c>http://127.0.0.1:{port}</c>.</summary>
    public Uri BaseUri { get; private set; } = null!;

    /// <summary>The site's port.</summary>
    public int Port => BaseUri.Port;

    /// <summary>Every request in arrival order.</summary>
    public IReadOnlyList<Recorded> Requests => [.. _requests];

    /// <summary>Bytes of <c>/large</c> written before the client stopped reading (or all 64 MB).</summary>
    public long LargeBytesWritten => Interlocked.Read(ref _largeBytesWritten);

    /// <summary>Whether all 64 MB of <c>/large</c> were sent without the client hanging up.</summary>
    public bool LargeCompleted => Volatile.Read(ref _largeCompleted) == 1;

    /// <summary>Whether the <c>/large</c> response ended (finished or aborted by the client).</summary>
    public bool LargeEnded => Volatile.Read(ref _largeEnded) == 1;

    public static async Task<FakeWebSite> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var self = new FakeWebSite(app);
        app.Use(async (context, next) =>
        {
            self._requests.Enqueue(new Recorded(context.Request.Method, context.Request.Path + context.Request.QueryString,
                context.Request.Host.ToString(), context.Request.Headers.UserAgent.ToString(), context.Request.Headers.Accept.ToString()));
            await next(context);
        });
        app.MapGet("/article", static () => Results.Content(ArticleHtml, "text/html; charset=utf-8"));
        app.MapGet("/big-page", static () => Results.Content(BigPage(), "text/html"));
        app.MapGet("/deep", static () => Results.Content("<html><body>" + string.Concat(Enumerable.Repeat("<div>", 300_000)) + "<p>bottom</p></body></html>", "text/html"));
        app.MapGet("/plain", static () => Results.Content("Plain text: ünïcödé, kept as it is.\nSecond line.", "text/plain; charset=utf-8"));
        app.MapGet("/data.json", static () => Results.Content("""{"name":"fox","legs":4,"tags":["quick","brown"]}""", "application/json"));
        app.MapGet("/problem", static () => Results.Content("""{"title":"not found"}""", "application/problem+json"));
        app.MapGet("/latin1", static () => Results.Bytes(Encoding.Latin1.GetBytes("<html><head><title>Caf\u00e9</title></head><body><p>Cr\u00e8me br\u00fbl\u00e9e \u00e0 la carte.</p></body></html>"), "text/html; charset=iso-8859-1"));
        app.MapGet("/image.png", static () => Results.Bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D], "image/png"));
        app.MapGet("/untyped", static async context =>
        {
            await context.Response.Body.WriteAsync(new byte[] { 0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00 });
        });
        app.MapGet("/chain/{n:int}", static (int n) => Results.Redirect(n <= 0 ? "/article" : $"/chain/{n - 1}"));
        app.MapGet("/to", static (string target) => Results.Redirect(target));
        app.MapGet("/secret", static () => Results.Content("SECRET-INTERNAL-DATA", "text/plain"));
        app.MapGet("/missing", static () => Results.NotFound());
        app.MapGet("/slow", static async (HttpContext context) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(20), context.RequestAborted);
            return Results.Content("too late", "text/plain");
        });
        app.MapGet("/large", async context =>
        {
            context.Response.ContentType = "text/plain";
            byte[] chunk = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("0123456789abcdef", 4096))); // 64 KiB
            try
            {
                // Paced (about 1 ms a chunk, so all of it takes a second or more): once the client hangs up, Kestrel drops
                // further writes silently and only RequestAborted tells, which must get the chance to stop the loop.
                int i = 0;
                for (; i < 1024 && !context.RequestAborted.IsCancellationRequested; i++)
                {
                    await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                    Interlocked.Add(ref self._largeBytesWritten, chunk.Length);
                    await Task.Delay(1, context.RequestAborted);
                }

                Volatile.Write(ref self._largeCompleted, i == 1024 ? 1 : 0);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
            }
            finally
            {
                Volatile.Write(ref self._largeEnded, 1);
            }
        });
        await app.StartAsync();
        self.BaseUri = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return self;
    }

    /// <summary>A page with 6,000 list items, past what web_fetch gives Readability.</summary>
    private static string BigPage()
    {
        var html = new StringBuilder("<html><head><title>Big list</title></head><body><nav><a href='/'>NAV-SHOULD-NOT-APPEAR</a></nav><h1>Big list</h1><ul>");
        for (int i = 0; i < 6_000; i++)
        {
            html.Append("<li>item ").Append(i).Append("</li>");
        }

        return html.Append("</ul><footer>FOOTER-SHOULD-NOT-APPEAR</footer></body></html>").ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>One request: method, path and query, the Host header, the User-Agent and Accept it came with.</summary>
    public sealed record Recorded(string Method, string PathAndQuery, string Host, string UserAgent, string Accept);
}
