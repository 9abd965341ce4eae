using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Builtins;
using Qlaud.Connectors.Tests.Builtins.Fakes;
using static Qlaud.Connectors.Tests.Builtins.CodeExecutionLocalTests;

namespace Qlaud.Connectors.Tests.Builtins;

/// <summary>The E2B backend of <c>code_execution</c> against a fake E2B over real HTTP: the requests E2B receives (key, bodies,
/// the sandbox's headers, the kill), the compact result, and E2B's error shapes as error results.</summary>
public sealed class CodeExecutionE2BTests
{
    [Fact]
    public async Task Invoke_PrintTwoPlusTwo_CreatesRunsAndKillsASandbox()
    {
        await using var e2b = await FakeE2B.StartAsync();
        await using var gateway = await StartAsync(e2b);
        var tool = Tool(gateway);

        var result = await tool.InvokeAsync(Call("""{"code":"print(2+2)"}"""), CancellationToken.None);

        Assert.False(result.IsError, result.Text);
        Assert.Equal("""{"stdout":"4\n","stderr":"","exit_code":0,"timed_out":false,"truncated":false}""", result.Text);
        var requests = e2b.Requests;
        Assert.Equal(["POST /sandboxes", $"POST /sandbox/{SandboxId(requests)}/execute", $"DELETE /sandboxes/{SandboxId(requests)}"],
            requests.Select(static r => r.Method + " " + r.Path));
        var create = requests[0];
        Assert.Equal(e2b.Key, create.Headers["X-API-Key"]);
        Assert.Equal("application/json", create.Headers["Content-Type"]);
        Assert.Equal("""{"templateID":"code-interpreter-v1","timeout":35,"secure":true,"allow_internet_access":false}""", create.Body);
        var execute = requests[1];
        Assert.Equal("""{"code":"print(2+2)"}""", execute.Body);
        Assert.StartsWith("envd_", execute.Headers["X-Access-Token"]);
        Assert.Equal(SandboxId(requests), execute.Headers["E2b-Sandbox-Id"]);
        Assert.Equal("49999", execute.Headers["E2b-Sandbox-Port"]);
        Assert.False(execute.Headers.ContainsKey("X-API-Key"), "the vendor key never goes to the sandbox");
        Assert.Equal(e2b.Key, requests[2].Headers["X-API-Key"]);
        Assert.Empty(e2b.Running);
        Assert.Equal(1_200, tool.PriceMicros);
    }

    [Fact]
    public async Task Invoke_LastExpression_IsTheResult()
    {
        await using var e2b = await FakeE2B.StartAsync();
        await using var gateway = await StartAsync(e2b);

        var result = await Tool(gateway).InvokeAsync(Call("""{"code":"x = 6\nx * 7"}"""), CancellationToken.None);

        Assert.False(result.IsError, result.Text);
        Assert.Equal("""{"stdout":"","stderr":"","exit_code":0,"timed_out":false,"truncated":false,"result":"42"}""", result.Text);
    }

    [Fact]
    public async Task Invoke_ProgramRaises_ErrorWithTracebackAndSandboxKilled()
    {
        await using var e2b = await FakeE2B.StartAsync();
        await using var gateway = await StartAsync(e2b);

        var result = await Tool(gateway).InvokeAsync(Call("""{"code":"print('before')\n1 / 0"}"""), CancellationToken.None);

        Assert.True(result.IsError, result.Text);
        Assert.StartsWith("The program raised ZeroDivisionError: division by zero. See stderr for the traceback. {\"stdout\":\"before\\n\"", result.Text);
        Assert.Contains("Traceback (most recent call last)", result.Text);
        Assert.DoesNotContain("\\u001B[", result.Text); // the interpreter's colour codes are stripped
        Assert.Contains("\"exit_code\":1", result.Text);
        Assert.Empty(e2b.Running);
    }

    [Fact]
    public async Task Invoke_LongOutput_IsTruncated()
    {
        await using var e2b = await FakeE2B.StartAsync();
        await using var gateway = await StartAsync(e2b, new() { ["Qlaud:Builtins:code_execution:MaxOutputChars"] = "100" });

        var result = await Tool(gateway).InvokeAsync(Call("""{"code":"print('z' * 500)"}"""), CancellationToken.None);

        Assert.False(result.IsError, result.Text);
        using var json = JsonDocument.Parse(result.Text);
        Assert.Equal(new string('z', 100) + "\n[output truncated: only the first 100 characters are kept]", json.RootElement.GetProperty("stdout").GetString());
        Assert.True(json.RootElement.GetProperty("truncated").GetBoolean());
    }

    [Fact]
    public async Task Invoke_RunsLongerThanTheTimeout_TimedOutAndSandboxKilled()
    {
        await using var e2b = await FakeE2B.StartAsync();
        e2b.HangExecutions = true;
        await using var gateway = await StartAsync(e2b);
        var watch = Stopwatch.StartNew();

        var result = await Tool(gateway).InvokeAsync(Call("""{"code":"import time\ntime.sleep(3600)","timeout_seconds":1}"""), CancellationToken.None);

        Assert.True(result.IsError, result.Text);
        Assert.Equal("""The program ran longer than the wall-clock timeout of 1 s and was stopped. {"stdout":"started\n","stderr":"","exit_code":null,"timed_out":true,"truncated":false}""", result.Text);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        Assert.Equal("DELETE", e2b.Requests[^1].Method);
        Assert.Empty(e2b.Running);
    }

    [Fact]
    public async Task Invoke_KeyRefused_401IsAnErrorAndNothingRuns()
    {
        await using var e2b = await FakeE2B.StartAsync();
        await using var gateway = await StartAsync(e2b, new() { ["Qlaud:Builtins:code_execution:ApiKey"] = "e2b_wrong" });

        var result = await Tool(gateway).InvokeAsync(Call("""{"code":"print(1)"}"""), CancellationToken.None);

        Assert.True(result.IsError);
        Assert.Equal("The operator's E2B key was refused (401: Invalid API key); code execution is unavailable until the operator fixes it.", result.Text);
        Assert.Equal(["POST /sandboxes"], e2b.Requests.Select(static r => r.Method + " " + r.Path)); // not retried, nothing created
    }

    [Fact]
    public async Task Invoke_RateLimited_429RetriedThenAnErrorWithRetryAfter()
    {
        await using var e2b = await FakeE2B.StartAsync();
        for (int i = 0; i < 3; i++)
        {
            e2b.FailNextCreate(429, retryAfter: "1");
        }

        await using var gateway = await StartAsync(e2b);

        var result = await Tool(gateway).InvokeAsync(Call("""{"code":"print(1)"}"""), CancellationToken.None);

        Assert.True(result.IsError);
        Assert.Equal("E2B is rate limiting the gateway (429: Rate limit exceeded, please try again later.); retry after 1 s.", result.Text);
        Assert.Equal(3, e2b.Requests.Count(static r => r.Path == "/sandboxes"));
        Assert.Empty(e2b.Running);
    }

    [Fact]
    public async Task Invoke_RateLimitedOnce_RetriedAndRuns()
    {
        await using var e2b = await FakeE2B.StartAsync();
        e2b.FailNextCreate(429, retryAfter: "1");
        await using var gateway = await StartAsync(e2b);

        var result = await Tool(gateway).InvokeAsync(Call("""{"code":"print('second time')"}"""), CancellationToken.None);

        Assert.False(result.IsError, result.Text);
        Assert.Contains("\"stdout\":\"second time\\n\"", result.Text);
        Assert.Equal(2, e2b.Requests.Count(static r => r.Path == "/sandboxes"));
    }

    [Fact]
    public async Task Invoke_ServerError_5xxRetriedThenAnError()
    {
        await using var e2b = await FakeE2B.StartAsync();
        for (int i = 0; i < 3; i++)
        {
            e2b.FailNextCreate(500);
        }

        await using var gateway = await StartAsync(e2b);

        var result = await Tool(gateway).InvokeAsync(Call("""{"code":"print(1)"}"""), CancellationToken.None);

        Assert.True(result.IsError);
        Assert.Equal("E2B failed to start a sandbox (500: Internal server error); try again later.", result.Text);
        Assert.Equal(3, e2b.Requests.Count(static r => r.Path == "/sandboxes"));
    }

    [Fact]
    public async Task IsAvailable_KeyFromTheEnvironmentVariable_UsesE2B()
    {
        await using var e2b = await FakeE2B.StartAsync();
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["E2B_API_KEY"] = e2b.Key,
            ["Qlaud:Builtins:code_execution:BaseUrl"] = e2b.Url,
            ["Qlaud:Builtins:code_execution:SandboxUrlTemplate"] = e2b.SandboxUrlTemplate,
        });
        var tool = Tool(gateway);

        var result = await tool.InvokeAsync(Call("""{"code":"print('via e2b')"}"""), CancellationToken.None);

        Assert.True(tool.IsAvailable);
        Assert.False(result.IsError, result.Text);
        Assert.Equal(e2b.Key, e2b.Requests[0].Headers["X-API-Key"]);
        Assert.Contains("cloud sandbox", tool.Description);
    }

    [Fact]
    public async Task IsAvailable_BackendE2BWithoutKey_ToolIsAbsent()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Builtins:code_execution:Backend"] = "e2b",
        });

        Assert.False(Tool(gateway).IsAvailable);
    }

    [Fact]
    public async Task IsAvailable_BackendLocalWithKey_RunsLocally()
    {
        await using var e2b = await FakeE2B.StartAsync();
        await using var gateway = await StartAsync(e2b, new() { ["Qlaud:Builtins:code_execution:Backend"] = "local" });
        var tool = Tool(gateway);

        var result = await tool.InvokeAsync(Call("""{"code":"import socket\nprint(socket.gethostname())"}"""), CancellationToken.None);

        Assert.False(result.IsError, result.Text);
        Assert.Contains("\"stdout\":\"sandbox\\n\"", result.Text);
        Assert.Empty(e2b.Requests);
        Assert.Equal(0, tool.PriceMicros);
    }

    [Fact]
    public async Task IsAvailable_Disabled_ToolIsAbsentEvenWithAKey()
    {
        await using var e2b = await FakeE2B.StartAsync();
        await using var gateway = await StartAsync(e2b, new() { ["Qlaud:Builtins:code_execution:Enabled"] = "false" });

        Assert.False(Tool(gateway).IsAvailable);
    }

    [Fact]
    public async Task PriceUsd_Override_ReplacesTheE2BDefault()
    {
        await using var e2b = await FakeE2B.StartAsync();
        await using var gateway = await StartAsync(e2b, new() { ["Qlaud:Builtins:code_execution:PriceUsd"] = "0.0042" });

        Assert.Equal(4_200, Tool(gateway).PriceMicros);
    }

    private static Task<GatewayHost> StartAsync(FakeE2B e2b, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Qlaud:Builtins:code_execution:ApiKey"] = e2b.Key,
            ["Qlaud:Builtins:code_execution:BaseUrl"] = e2b.Url,
            ["Qlaud:Builtins:code_execution:SandboxUrlTemplate"] = e2b.SandboxUrlTemplate,
            ["Qlaud:Builtins:code_execution:TimeoutSeconds"] = "5",
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return GatewayHost.StartAsync(settings: settings);
    }

    private static BuiltinTool Tool(GatewayHost gateway) => gateway.Services.GetServices<BuiltinTool>().Single(static t => t.Name == "code_execution");

    private static string SandboxId(IReadOnlyList<FakeE2B.Recorded> requests) => requests[1].Path.Split('/')[2];
}
