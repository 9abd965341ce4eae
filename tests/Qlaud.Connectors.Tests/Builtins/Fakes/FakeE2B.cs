using System.Collections.Concurrent;
using System.Diagnostics;
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
/// E2B on Kestrel at 127.0.0.1, as its OpenAPI spec and its code-interpreter server define it: <c>POST /sandboxes</c> and
/// <c>DELETE /sandboxes/{sandboxID}</c> behind <c>X-API-Key</c> (errors as <c>{code, message}</c>: 401, 429 with
/// <c>Retry-After</c>, 5xx), and each sandbox's code interpreter at <c>/sandbox/{sandboxID}/execute</c> (the tool's
/// <c>SandboxUrlTemplate</c> points there), which checks <c>X-Access-Token</c>, <c>E2b-Sandbox-Id</c> and
/// <c>E2b-Sandbox-Port</c> and streams JSON lines <c>stdout</c>/<c>stderr</c>/<c>result</c>/<c>error</c>/<c>end_of_execution</c>.
/// </summary>
/// <remarks>The interpreter really runs the code, with the machine's python3 (outside any sandbox: the tests' own code), the
/// way a Jupyter cell runs: the value of a last bare expression is the main result, an exception is an <c>error</c> message.</remarks>
public sealed class FakeE2B : IAsyncDisposable
{
    /// <summary>Runs a cell: the code on stdin; stdout and stderr pass through; the result or the exception goes to the file in argv[1].</summary>
    private const string CellRunner = """
        import ast, json, sys, traceback
        out = sys.argv[1]
        source = sys.stdin.read()
        try:
            tree = ast.parse(source)
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            scope = {"__name__": "__main__"}
            exec(compile(tree, "<cell>", "exec"), scope)
            value = eval(compile(last, "<cell>", "eval"), scope) if last is not None else None
            json.dump({"result": None if value is None else repr(value)}, open(out, "w"))
        except BaseException as e:
            json.dump({"error": {"name": type(e).__name__, "value": str(e), "traceback": "\u001b[0;31m" + traceback.format_exc() + "\u001b[0m"}}, open(out, "w"))
        """;

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, string> _sandboxes = new(StringComparer.Ordinal); // id → envd access token
    private readonly ConcurrentQueue<Recorded> _requests = new();
    private readonly ConcurrentQueue<(int Status, string? RetryAfter)> _createFailures = new();

    private FakeE2B(WebApplication app, string key)
    {
        _app = app;
        Key = key;
    }

    /// <summary>The API key it accepts.</summary>
    public string Key { get; }

    /// <summary>The API base URL (<c>Qlaud:Builtins:code_execution:BaseUrl</c>).</summary>
    public string Url { get; private set; } = "";

    /// <summary>The code interpreter's URL template (<c>Qlaud:Builtins:code_execution:SandboxUrlTemplate</c>).</summary>
    public string SandboxUrlTemplate => Url + "/sandbox/{sandboxID}";

    /// <summary>Every request in arrival order.</summary>
    public IReadOnlyList<Recorded> Requests => [.. _requests];

    /// <summary>Sandboxes created and not yet killed.</summary>
    public IReadOnlyCollection<string> Running => [.. _sandboxes.Keys];

    /// <summary>When set, <c>/execute</c> streams nothing after its first stdout line and waits until the client goes away.</summary>
    public bool HangExecutions { get; set; }

    /// <summary>The next <c>POST /sandboxes</c> answers <paramref name="status"/> with the documented error body.</summary>
    public void FailNextCreate(int status, string? retryAfter = null) => _createFailures.Enqueue((status, retryAfter));

    public static async Task<FakeE2B> StartAsync(string key = "e2b_test_key_0123456789")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var self = new FakeE2B(app, key);
        app.MapPost("/sandboxes", (Func<HttpContext, Task<IResult>>)self.CreateAsync);
        app.MapDelete("/sandboxes/{sandboxID}", self.Kill);
        app.MapPost("/sandbox/{sandboxID}/execute", self.ExecuteAsync);
        await app.StartAsync();
        self.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return self;
    }

    private async Task<IResult> CreateAsync(HttpContext context)
    {
        string body = await new StreamReader(context.Request.Body).ReadToEndAsync();
        Record(context, body);
        if (!KeyOk(context))
        {
            return Error(401, "Invalid API key");
        }

        if (_createFailures.TryDequeue(out var failure))
        {
            if (failure.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = failure.RetryAfter;
            }

            return Error(failure.Status, failure.Status == 429 ? "Rate limit exceeded, please try again later." : "Internal server error");
        }

        if (context.Request.ContentType != "application/json")
        {
            return Error(400, "Content-Type must be application/json");
        }

        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        if (!root.TryGetProperty("templateID", out var template) || template.ValueKind != JsonValueKind.String
            || (root.TryGetProperty("timeout", out var timeout) && !timeout.TryGetInt32(out _))
            || (root.TryGetProperty("secure", out var secure) && secure.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            || (root.TryGetProperty("allow_internet_access", out var internet) && internet.ValueKind is not (JsonValueKind.True or JsonValueKind.False)))
        {
            return Error(400, "Invalid request body");
        }

        if (template.GetString() != "code-interpreter-v1")
        {
            return Error(404, $"template '{template.GetString()}' not found");
        }

        string id = "i" + Guid.NewGuid().ToString("N")[..19];
        string token = "envd_" + Guid.NewGuid().ToString("N");
        _sandboxes[id] = token;
        return Results.Json(new Dictionary<string, object?>
        {
            ["templateID"] = "nlhz8vlwyupq845jsdg9",
            ["sandboxID"] = id,
            ["alias"] = "code-interpreter-v1",
            ["clientID"] = "6532622b",
            ["envdVersion"] = "0.2.4",
            ["envdAccessToken"] = token,
            ["trafficAccessToken"] = null,
            ["domain"] = null,
        }, statusCode: 201);
    }

    private IResult Kill(HttpContext context, string sandboxID)
    {
        Record(context, "");
        if (!KeyOk(context))
        {
            return Error(401, "Invalid API key");
        }

        return _sandboxes.TryRemove(sandboxID, out _) ? Results.NoContent() : Error(404, $"sandbox \"{sandboxID}\" not found");
    }

    private async Task ExecuteAsync(HttpContext context, string sandboxID)
    {
        string body = await new StreamReader(context.Request.Body).ReadToEndAsync();
        Record(context, body);
        if (!_sandboxes.TryGetValue(sandboxID, out var token))
        {
            // The E2B edge answers for a sandbox that does not run (any more).
            context.Response.StatusCode = 502;
            await context.Response.WriteAsync("The sandbox was not found");
            return;
        }

        if (context.Request.Headers["X-Access-Token"] != token || context.Request.Headers["E2b-Sandbox-Id"] != sandboxID
            || context.Request.Headers["E2b-Sandbox-Port"] != "49999")
        {
            context.Response.StatusCode = 401;
            await context.Response.WriteAsync("unauthorized access, please provide a valid access token or method signing if supported");
            return;
        }

        string? code;
        try
        {
            using var document = JsonDocument.Parse(body);
            code = document.RootElement.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
        }
        catch (JsonException)
        {
            code = null;
        }

        if (code is null)
        {
            context.Response.StatusCode = 422;
            await context.Response.WriteAsJsonAsync(new { detail = new[] { new { type = "missing", loc = new[] { "body", "code" }, msg = "Field required" } } });
            return;
        }

        context.Response.StatusCode = 200;
        if (HangExecutions)
        {
            await Line(context, new { type = "stdout", text = "started\n", timestamp = Now() });
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(static _ => { }, TaskScheduler.Default);
            return;
        }

        var (stdout, stderr, outcome) = await RunCellAsync(code, context.RequestAborted);
        if (stdout.Length > 0)
        {
            await Line(context, new { type = "stdout", text = stdout, timestamp = Now() });
        }

        if (stderr.Length > 0)
        {
            await Line(context, new { type = "stderr", text = stderr, timestamp = Now() });
        }

        if (outcome.TryGetProperty("error", out var error))
        {
            await Line(context, new { type = "error", name = error.GetProperty("name").GetString(), value = error.GetProperty("value").GetString(), traceback = error.GetProperty("traceback").GetString() });
        }
        else if (outcome.GetProperty("result").GetString() is { } result)
        {
            await Line(context, new { type = "result", text = result, is_main_result = true });
        }

        await Line(context, new { type = "number_of_executions", execution_count = 1 });
        await context.Response.WriteAsync("{\"type\": \"end_of_execution\"}\n");
    }

    private static async Task<(string Stdout, string Stderr, JsonElement Outcome)> RunCellAsync(string code, CancellationToken cancellationToken)
    {
        string outcomeFile = Path.Combine(Path.GetTempPath(), $"fake-e2b-{Guid.NewGuid():N}.json");
        try
        {
            var start = new ProcessStartInfo(File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(CellRunner);
            start.ArgumentList.Add(outcomeFile);
            using var process = Process.Start(start)!;
            await process.StandardInput.WriteAsync(code);
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(20), cancellationToken);
            using var outcome = JsonDocument.Parse(await File.ReadAllTextAsync(outcomeFile, cancellationToken));
            return (await stdout, await stderr, outcome.RootElement.Clone());
        }
        finally
        {
            File.Delete(outcomeFile);
        }
    }

    private static async Task Line(HttpContext context, object message)
    {
        await context.Response.WriteAsync(JsonSerializer.Serialize(message) + "\n", Encoding.UTF8);
        await context.Response.Body.FlushAsync();
    }

    private static string Now() => TimeProvider.System.GetUtcNow().ToString("O");

    private bool KeyOk(HttpContext context) => context.Request.Headers["X-API-Key"] == Key;

    private void Record(HttpContext context, string body)
    {
        var headers = context.Request.Headers.ToDictionary(static h => h.Key, static h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _requests.Enqueue(new Recorded(context.Request.Method, context.Request.Path.Value!, headers, body));
    }

    private static IResult Error(int status, string message) => Results.Json(new { code = status, message }, statusCode: status);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>One request as it arrived.</summary>
    public sealed record Recorded(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body);
}
