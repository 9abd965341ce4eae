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
using ModelContextProtocol.Server;

namespace Qlaud.Connectors.Tests.Fakes;

/// <summary>
/// An OAuth vendor on 127.0.0.1: an MCP server (<c>/mcp</c>, tool <c>create_issue</c>) that answers 401 with
/// <c>WWW-Authenticate: Bearer resource_metadata=…</c> without a valid access token, its protected-resource metadata, and a fake
/// authorization server: metadata, dynamic client registration, <c>/authorize</c> (approves at once and redirects back),
/// <c>/token</c> with PKCE S256 checks and single-use rotating refresh tokens (a reused one is refused and counted).
/// </summary>
public sealed class FakeOAuthVendor : IAsyncDisposable
{
    private static readonly AsyncLocal<string?> CurrentToken = new();

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, bool> _clients = new();
    private readonly ConcurrentDictionary<string, (string Client, string Redirect, string Challenge)> _codes = new();
    private readonly ConcurrentDictionary<string, bool> _accessTokens = new();
    private readonly ConcurrentDictionary<string, string> _refreshTokens = new(); // refresh -> access it was issued with
    private readonly ConcurrentQueue<(string? Token, string Title)> _calls = new();
    private int _next;
    private int _refreshes;
    private int _reused;

    private FakeOAuthVendor(WebApplication app) => _app = app;

    public Uri BaseUri { get; private set; } = null!;

    public Uri Endpoint => new(BaseUri, "/mcp");

    public IReadOnlyList<(string? Token, string Title)> Calls => [.. _calls];

    public int Registrations => _clients.Count;

    public int Refreshes => _refreshes;

    public int ReusedRefreshTokens => _reused;

    /// <summary>Seconds an access token is said to last.</summary>
    public int ExpiresIn { get; set; } = 3600;

    public static async Task<FakeOAuthVendor> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        FakeOAuthVendor? self = null;
        builder.Services.AddMcpServer(static o => o.ServerInfo = new() { Name = "OAuthVendor", Version = "1.0.0" })
            .WithHttpTransport(static o => o.Stateless = true)
            .WithTools([McpServerTool.Create((string title) => self!.Create(title), new McpServerToolCreateOptions { Name = "create_issue", Description = "Create an issue." })]);
        var app = builder.Build();
        self = new FakeOAuthVendor(app);
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/mcp"))
            {
                string auth = context.Request.Headers.Authorization.ToString();
                string? token = auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth[7..] : null;
                if (token is null || !self._accessTokens.ContainsKey(token))
                {
                    context.Response.StatusCode = 401;
                    context.Response.Headers.WWWAuthenticate = $"Bearer resource_metadata=\"{new Uri(self.BaseUri, "/.well-known/oauth-protected-resource/mcp")}\"";
                    return;
                }

                CurrentToken.Value = token;
            }

            await next(context);
        });
        app.MapGet("/.well-known/oauth-protected-resource/mcp", (HttpContext c) => Results.Json(new Dictionary<string, object>
        {
            ["resource"] = self.Endpoint.AbsoluteUri,
            ["authorization_servers"] = new[] { self.BaseUri.AbsoluteUri.TrimEnd('/') },
        }));
        app.MapGet("/.well-known/oauth-authorization-server", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = self.BaseUri.AbsoluteUri.TrimEnd('/'),
            ["authorization_endpoint"] = new Uri(self.BaseUri, "/authorize").AbsoluteUri,
            ["token_endpoint"] = new Uri(self.BaseUri, "/token").AbsoluteUri,
            ["registration_endpoint"] = new Uri(self.BaseUri, "/register").AbsoluteUri,
            ["code_challenge_methods_supported"] = new[] { "S256" },
            ["response_types_supported"] = new[] { "code" },
            ["grant_types_supported"] = new[] { "authorization_code", "refresh_token" },
        }));
        app.MapPost("/register", () =>
        {
            string client = $"client-{Interlocked.Increment(ref self._next)}";
            self._clients[client] = true;
            return Results.Json(new Dictionary<string, object> { ["client_id"] = client }, statusCode: 201);
        });
        app.MapGet("/authorize", (HttpContext c) =>
        {
            var q = c.Request.Query;
            if (!self._clients.ContainsKey(q["client_id"].ToString()) || q["code_challenge_method"] != "S256" || q["response_type"] != "code" || string.IsNullOrEmpty(q["state"]))
            {
                return Results.BadRequest("bad authorization request");
            }

            string code = $"code-{Interlocked.Increment(ref self._next)}";
            self._codes[code] = (q["client_id"].ToString(), q["redirect_uri"].ToString(), q["code_challenge"].ToString());
            return Results.Redirect($"{q["redirect_uri"]}?code={code}&state={Uri.EscapeDataString(q["state"].ToString())}");
        });
        app.MapPost("/token", async (HttpContext c) =>
        {
            var form = await c.Request.ReadFormAsync();
            if (form["grant_type"] == "authorization_code")
            {
                if (!self._codes.TryRemove(form["code"].ToString(), out var issued) || issued.Client != form["client_id"] || issued.Redirect != form["redirect_uri"]
                    || Convert.ToBase64String(SHA256.HashData(Encoding.ASCII.GetBytes(form["code_verifier"].ToString()))).TrimEnd('=').Replace('+', '-').Replace('/', '_') != issued.Challenge)
                {
                    return Results.Json(new Dictionary<string, string> { ["error"] = "invalid_grant" }, statusCode: 400);
                }

                return self.Issue(previousAccess: null);
            }

            if (form["grant_type"] == "refresh_token")
            {
                if (!self._refreshTokens.TryRemove(form["refresh_token"].ToString(), out var access))
                {
                    Interlocked.Increment(ref self._reused);
                    return Results.Json(new Dictionary<string, string> { ["error"] = "invalid_grant" }, statusCode: 400);
                }

                Interlocked.Increment(ref self._refreshes);
                return self.Issue(previousAccess: access);
            }

            return Results.Json(new Dictionary<string, string> { ["error"] = "unsupported_grant_type" }, statusCode: 400);
        });
        app.MapMcp("/mcp");
        await app.StartAsync();
        self.BaseUri = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return self;
    }

    private IResult Issue(string? previousAccess)
    {
        if (previousAccess is not null)
        {
            _accessTokens.TryRemove(previousAccess, out _); // a refreshed access token stops working
        }

        int n = Interlocked.Increment(ref _next);
        string access = $"at-{n}", refresh = $"rt-{n}";
        _accessTokens[access] = true;
        _refreshTokens[refresh] = access;
        return Results.Json(new Dictionary<string, object> { ["access_token"] = access, ["refresh_token"] = refresh, ["token_type"] = "Bearer", ["expires_in"] = ExpiresIn });
    }

    private string Create(string title)
    {
        _calls.Enqueue((CurrentToken.Value, title));
        return $"created '{title}'";
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
