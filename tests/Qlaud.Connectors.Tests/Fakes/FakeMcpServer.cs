using System.Collections.Concurrent;
using System.Text.Json;
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
/// A vendor's MCP server built with ModelContextProtocol.AspNetCore on Kestrel at 127.0.0.1 (streamable HTTP, stateless), shaped
/// like Linear's: <c>create_issue {title, description?}</c> and <c>list_issues</c>. Requests need <c>Authorization: Bearer</c> with
/// one of the keys it was given (401 otherwise); every tool call is recorded with the key that made it.
/// </summary>
public sealed class FakeMcpServer : IAsyncDisposable
{
    private static readonly AsyncLocal<string?> CurrentKey = new();

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedCall> _calls = new();
    private readonly ConcurrentDictionary<string, bool> _keys;
    private int _nextIssue;

    private FakeMcpServer(WebApplication app, ConcurrentDictionary<string, bool> keys)
    {
        _app = app;
        _keys = keys;
    }

    /// <summary>The MCP endpoint, <c>http://127.0.0.1:{port}/mcp</c>.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Tool calls in arrival order.</summary>
    public IReadOnlyList<RecordedCall> Calls => [.. _calls];

    /// <summary>Requests refused for a missing or wrong key.</summary>
    public int Refused => _refused;

    private int _refused;

    private volatile TaskCompletionSource? _gate;
    private int _waiting;

    /// <summary>Tool calls that arrived and wait on the gate (<see cref="HoldCalls"/>).</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>From now on a tool call waits, before it does anything, until <see cref="ReleaseCalls"/>.</summary>
    public void HoldCalls() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lets the held tool calls (and later ones) run.</summary>
    public void ReleaseCalls() => _gate?.TrySetResult();

    /// <summary>Accepts another key from now on.</summary>
    public void AcceptKey(string key) => _keys[key] = true;

    public static async Task<FakeMcpServer> StartAsync(string vendor, params string[] keys)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var accepted = new ConcurrentDictionary<string, bool>(keys.Select(static k => new KeyValuePair<string, bool>(k, true)), StringComparer.Ordinal);
        FakeMcpServer? self = null;
        builder.Services.AddMcpServer(o => o.ServerInfo = new() { Name = vendor, Version = "1.0.0" })
            .WithHttpTransport(static o => o.Stateless = true)
            .WithTools([
                McpServerTool.Create(async (string title, string? description = null) =>
                    {
                        await self!.PassGateAsync();
                        return self.CreateIssue(title, description);
                    },
                    new McpServerToolCreateOptions { Name = "create_issue", Description = $"Create a new {vendor} issue (ticket) with a title and an optional description." }),
                McpServerTool.Create(() => self!.ListIssues(),
                    new McpServerToolCreateOptions { Name = "list_issues", Description = $"List the {vendor} issues created so far." }),
            ]);
        var app = builder.Build();
        self = new FakeMcpServer(app, accepted);
        app.Use(async (context, next) =>
        {
            string auth = context.Request.Headers.Authorization.ToString();
            string? key = auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth["Bearer ".Length..] : null;
            if (key is null || !self._keys.ContainsKey(key))
            {
                Interlocked.Increment(ref self._refused);
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return;
            }

            CurrentKey.Value = key;
            await next(context);
        });
        app.MapMcp("/mcp");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self.Endpoint = new Uri(new Uri(address), "/mcp");
        return self;
    }

    private async Task PassGateAsync()
    {
        if (_gate is { } gate)
        {
            Interlocked.Increment(ref _waiting);
            await gate.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Interlocked.Decrement(ref _waiting);
        }
    }

    private string CreateIssue(string title, string? description)
    {
        int number = Interlocked.Increment(ref _nextIssue);
        var issue = new { id = $"ISS-{number}", title, description };
        _calls.Enqueue(new RecordedCall(CurrentKey.Value, "create_issue", JsonSerializer.Serialize(new { title, description })));
        return JsonSerializer.Serialize(issue);
    }

    private string ListIssues()
    {
        _calls.Enqueue(new RecordedCall(CurrentKey.Value, "list_issues", "{}"));
        return JsonSerializer.Serialize(_calls.Where(static c => c.Tool == "create_issue").Select(static c => c.ArgumentsJson));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>One tool call: the key it came with, the tool and its arguments.</summary>
    public sealed record RecordedCall(string? Key, string Tool, string ArgumentsJson);
}
