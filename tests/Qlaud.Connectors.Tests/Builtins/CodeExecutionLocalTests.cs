using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Builtins;
using Qlaud.Connectors.Builtins.CodeExecution;

namespace Qlaud.Connectors.Tests.Builtins;

/// <summary>The local bubblewrap sandbox of <c>code_execution</c>, resolved from a real gateway: real bwrap, real python3, real
/// limits. Each hostile program must come back as an error result naming what stopped it, within a bounded time, with no
/// process of it left behind.</summary>
public sealed class CodeExecutionLocalTests(CodeExecutionLocalTests.SandboxGateway sandbox, Xunit.Abstractions.ITestOutputHelper output)
    : IClassFixture<CodeExecutionLocalTests.SandboxGateway>
{
    /// <summary>One gateway for the class, with small limits so every hostile program ends quickly.</summary>
    public sealed class SandboxGateway : IAsyncLifetime
    {
        public static readonly Dictionary<string, string?> Settings = new()
        {
            ["Qlaud:Builtins:code_execution:Backend"] = "local",
            ["Qlaud:Builtins:code_execution:TimeoutSeconds"] = "30", // only a bound: the CPU limit must stop the busy loop first, also on a loaded machine
            ["Qlaud:Builtins:code_execution:CpuSeconds"] = "1",
            ["Qlaud:Builtins:code_execution:MemoryMb"] = "256",
            ["Qlaud:Builtins:code_execution:MaxProcesses"] = "16",
            ["Qlaud:Builtins:code_execution:DiskMb"] = "16",
            ["Qlaud:Builtins:code_execution:MaxOutputChars"] = "1000",
        };

        public GatewayHost Gateway { get; private set; } = null!;

        internal BuiltinTool Tool => Gateway.Services.GetServices<BuiltinTool>().Single(static t => t.Name == "code_execution");

        public async Task InitializeAsync() => Gateway = await GatewayHost.StartAsync(settings: Settings);

        public async Task DisposeAsync() => await Gateway.DisposeAsync();
    }

    private BuiltinTool Tool => sandbox.Tool;

    /// <summary>Runs <paramref name="arguments"/> and writes the result to the test output.</summary>
    private async Task<BuiltinToolResult> RunAsync(string arguments, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var result = await Tool.InvokeAsync(Call(arguments), cancellationToken);
        output.WriteLine($"{watch.ElapsedMilliseconds} ms, error={result.IsError}: {(result.Text.Length > 600 ? result.Text[..600] + "..." : result.Text)}");
        return result;
    }

    [Fact]
    public async Task Invoke_PrintTwoPlusTwo_ReturnsItsOutput()
    {
        Assert.True(Tool.IsAvailable, "bwrap and python3 are installed on this machine (tests/run-all.sh installs bubblewrap)");

        var result = await RunAsync("""{"code":"print(2+2)"}""");

        Assert.False(result.IsError, result.Text);
        Assert.Equal("""{"stdout":"4\n","stderr":"","exit_code":0,"timed_out":false,"truncated":false}""", result.Text);
        Assert.Equal(0, Tool.PriceMicros);
    }

    [Fact]
    public async Task Invoke_Socket_HasNoNetwork()
    {
        // A listener on the host's loopback: with the host's network the program would connect and print "connected".
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        string code = $"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')";

        var result = await RunAsync(Args(code));

        Assert.True(result.IsError, result.Text);
        Assert.Contains("The sandbox has no network access.", result.Text);
        Assert.DoesNotContain("connected\\n", result.Text);
        Assert.False(listener.Pending());
    }

    [Fact]
    public async Task Invoke_ReadEtcShadow_HostFilesAreNotVisible()
    {
        Assert.True(File.Exists("/etc/shadow"), "the host has /etc/shadow, so reading it in the sandbox must fail for the sandbox's sake");

        var result = await RunAsync(Args("print(open('/etc/shadow').read())"));

        Assert.True(result.IsError, result.Text);
        Assert.Contains("FileNotFoundError", result.Text);
        Assert.Contains("host files are not visible", result.Text);
        Assert.DoesNotContain("root:", result.Text);
    }

    [Fact]
    public async Task Invoke_ForkBomb_IsStoppedByTheProcessLimit()
    {
        var watch = Stopwatch.StartNew();

        var result = await RunAsync(Args("import os\nwhile True:\n    os.fork()"));

        Assert.True(result.IsError, result.Text);
        Assert.Contains("the sandbox allows at most 16 at once", result.Text);
        Assert.Contains("BlockingIOError", result.Text);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
        await AssertNoSandboxLeftAsync();
    }

    [Fact]
    public async Task Invoke_Allocate4GB_IsStoppedByTheMemoryLimit()
    {
        var result = await RunAsync(Args("b = bytearray(4 * 1024 ** 3)\nprint(len(b))"));

        Assert.True(result.IsError, result.Text);
        Assert.Contains("It ran out of memory: the sandbox allows 256 MB of address space per process.", result.Text);
        Assert.Contains("MemoryError", result.Text);
        Assert.Contains("\"exit_code\":1", result.Text);
    }

    [Fact]
    public async Task Invoke_BusyLoopForever_IsKilledByTheCpuLimit()
    {
        var watch = Stopwatch.StartNew();

        var result = await RunAsync(Args("while True:\n    pass"));

        Assert.True(result.IsError, result.Text);
        Assert.Contains("The program used more than its CPU-time limit of 1 s and was killed (SIGXCPU).", result.Text);
        Assert.Contains("\"exit_code\":152,\"timed_out\":false", result.Text);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
        await AssertNoSandboxLeftAsync();
    }

    [Fact]
    public async Task Invoke_SleepForever_IsKilledByTheWallClockTimeout()
    {
        var watch = Stopwatch.StartNew();

        // Sleeping uses no CPU, so only the wall clock stops it; children forked first must die with it.
        var result = await RunAsync("""{"code":"import os, time\nprint('sleeping', flush=True)\nos.fork()\ntime.sleep(3600)","timeout_seconds":3}""");

        Assert.True(result.IsError, result.Text);
        Assert.StartsWith("The program ran longer than the wall-clock timeout of 3 s and was killed. ", result.Text);
        Assert.Contains("""{"stdout":"sleeping\n","stderr":"","exit_code":null,"timed_out":true,"truncated":false}""", result.Text);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"took {watch.Elapsed}");
        await AssertNoSandboxLeftAsync();
    }

    [Fact]
    public async Task Invoke_CallingThreadEnds_ProgramKeepsRunning()
    {
        // bwrap --die-with-parent ties the sandbox to the thread that forked it: the program must outlive the caller's thread.
        Task<BuiltinToolResult>? run = null;
        var thread = new Thread(() =>
        {
            run = Tool.InvokeAsync(Call(Args("import time\ntime.sleep(1.5)\nprint('alive')")), CancellationToken.None);
            Thread.Sleep(500); // ends while the program sleeps, after bwrap set up its parent-death signal
        });
        thread.Start();
        thread.Join();

        var result = await run!;

        Assert.False(result.IsError, result.Text);
        Assert.Contains("\"stdout\":\"alive\\n\"", result.Text);
    }

    [Fact]
    public async Task Invoke_FilesWrittenInOneCall_AreGoneInTheNext()
    {
        var first = await RunAsync(Args("import os\nopen('notes.txt', 'w').write('secret')\nprint(os.getcwd(), os.path.exists('/tmp/notes.txt'))"));
        var second = await RunAsync(Args("import os\nprint(os.path.exists('/tmp/notes.txt'), os.listdir('/tmp'))"));

        Assert.False(first.IsError, first.Text);
        Assert.Contains("\"stdout\":\"/tmp True\\n\"", first.Text);
        Assert.False(second.IsError, second.Text);
        Assert.Contains("\"stdout\":\"False []\\n\"", second.Text);
    }

    [Fact]
    public async Task Invoke_LongOutput_IsTruncatedWithANote()
    {
        var result = await RunAsync(Args("print('x' * 5000)\nprint('y' * 10, file=__import__('sys').stderr)"));

        Assert.False(result.IsError, result.Text);
        using var json = JsonDocument.Parse(result.Text);
        string stdout = json.RootElement.GetProperty("stdout").GetString()!;
        Assert.Equal(new string('x', 1000) + "\n[output truncated: only the first 1,000 characters are kept]", stdout);
        Assert.Equal("yyyyyyyyyy\n", json.RootElement.GetProperty("stderr").GetString());
        Assert.True(json.RootElement.GetProperty("truncated").GetBoolean());
        Assert.Equal(0, json.RootElement.GetProperty("exit_code").GetInt32());
    }

    [Fact]
    public async Task Invoke_WriteBeyondTheDiskLimit_IsReported()
    {
        var result = await RunAsync(Args("open('big', 'wb').write(b'x' * (20 * 1024 * 1024))"));

        Assert.True(result.IsError, result.Text);
        Assert.Contains("It wrote a file larger than the sandbox's limit of 16 MB.", result.Text);
    }

    [Fact]
    public async Task Invoke_NonZeroExit_IsAnErrorWithTheOutput()
    {
        var result = await RunAsync(Args("import sys\nprint('partial')\nraise ValueError('boom')"));

        Assert.True(result.IsError, result.Text);
        Assert.StartsWith("The program exited with code 1. See stderr. {\"stdout\":\"partial\\n\"", result.Text);
        Assert.Contains("ValueError: boom", result.Text);
    }

    [Theory]
    [InlineData("""{}""", "\"code\" is required")]
    [InlineData("""{"code":"   "}""", "\"code\" is required")]
    [InlineData("""{"code":42}""", "\"code\" is required")]
    [InlineData("""{"code":"print(1)","timeout_seconds":"soon"}""", "\"timeout_seconds\" must be a whole number of seconds from 1 to 30")]
    [InlineData("""{"code":"print(1)","timeout_seconds":0}""", "\"timeout_seconds\" must be a whole number of seconds from 1 to 30")]
    public async Task Invoke_BadArguments_AreErrorsWithoutARun(string arguments, string expected)
    {
        var result = await RunAsync(arguments);

        Assert.True(result.IsError);
        Assert.Contains(expected, result.Text);
    }

    [Fact]
    public async Task Invoke_TimeoutAboveTheMaximum_IsCappedToIt()
    {
        var result = await RunAsync("""{"code":"print('ok')","timeout_seconds":100000}""");

        Assert.False(result.IsError, result.Text);
        Assert.Contains("\"stdout\":\"ok\\n\"", result.Text);
    }

    [Fact]
    public async Task Invoke_Cancelled_KillsTheProgramAndThrows()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Tool.InvokeAsync(Call(Args("import time\ntime.sleep(3600)")), cancel.Token));
        await AssertNoSandboxLeftAsync();
    }

    [Fact]
    public void Schema_And_Description_DescribeTheLocalSandbox()
    {
        Assert.Equal("code_execution", Tool.Name);
        Assert.Contains("no network access", Tool.Description);
        Assert.Contains("1 s CPU, 256 MB memory, 16 processes", Tool.Description);
        var schema = Tool.InputSchema;
        Assert.Equal("code", schema.GetProperty("required")[0].GetString());
        Assert.Equal(30, schema.GetProperty("properties").GetProperty("timeout_seconds").GetProperty("maximum").GetInt32());
    }

    [Fact]
    public async Task IsAvailable_BwrapMissing_ToolIsAbsent()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Builtins:code_execution:BwrapPath"] = "/nonexistent/bin/bwrap",
        });

        var tool = gateway.Services.GetServices<BuiltinTool>().Single(static t => t.Name == "code_execution");

        Assert.False(tool.IsAvailable);
        var result = await tool.InvokeAsync(Call(Args("print(1)")), CancellationToken.None);
        Assert.True(result.IsError);
    }

    [Fact]
    public async Task IsAvailable_PythonMissing_ToolIsAbsent()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Builtins:code_execution:PythonPath"] = "/nonexistent/bin/python3",
        });

        Assert.False(gateway.Services.GetServices<BuiltinTool>().Single(static t => t.Name == "code_execution").IsAvailable);
    }

    [Fact]
    public async Task IsAvailable_PythonOutsideTheSandboxsView_TrialRunFailsAndToolIsAbsent()
    {
        // The file exists on the host, but /work is not bound into the sandbox: the trial run fails, so the tool is absent, not broken.
        string python = Path.Combine(Path.GetTempPath(), $"qlaud-python-{Guid.NewGuid():N}");
        File.Copy("/usr/bin/python3", python);
        try
        {
            await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
            {
                ["Qlaud:Builtins:code_execution:PythonPath"] = python,
            });

            Assert.False(gateway.Services.GetServices<BuiltinTool>().Single(static t => t.Name == "code_execution").IsAvailable);
        }
        finally
        {
            File.Delete(python);
        }
    }

    [Fact]
    public async Task IsAvailable_Disabled_ToolIsAbsent()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Builtins:code_execution:Enabled"] = "false",
        });

        Assert.False(gateway.Services.GetServices<BuiltinTool>().Single(static t => t.Name == "code_execution").IsAvailable);
    }

    [Fact]
    public async Task PriceUsd_Override_IsTheLocalPrice()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Builtins:code_execution:PriceUsd"] = "0.0005",
        });

        Assert.Equal(500, gateway.Services.GetServices<BuiltinTool>().Single(static t => t.Name == "code_execution").PriceMicros);
    }

    [Theory]
    [InlineData("Backend", "docker", "Qlaud:Builtins:code_execution:Backend must be local or e2b")]
    [InlineData("MemoryMb", "0", "Qlaud:Builtins:code_execution:MemoryMb must be between 32 and 65536.")]
    [InlineData("BwrapPath", "bwrap", "Qlaud:Builtins:code_execution:BwrapPath must be an absolute path.")]
    [InlineData("SandboxUrlTemplate", "https://49999.e2b.app", "Qlaud:Builtins:code_execution:SandboxUrlTemplate must be an absolute http or https URL containing {sandboxID}.")]
    public async Task Start_InvalidSetting_FailsNamingTheKey(string key, string value, string message)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Builtins:code_execution:" + key] = value,
        }));

        Assert.Contains(message, error.Message);
    }

    /// <summary>Waits (bounded) until no bwrap or python3 process descends from this test process.</summary>
    private static async Task AssertNoSandboxLeftAsync()
    {
        List<string> left = [];
        for (int attempt = 0; attempt < 40; attempt++)
        {
            left = SandboxDescendants();
            if (left.Count == 0)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail("sandbox processes left behind: " + string.Join(", ", left));
    }

    private static List<string> SandboxDescendants()
    {
        var parents = new Dictionary<int, (int Parent, string Name)>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }

            try
            {
                // /proc/{pid}/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ')'.
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                int close = stat.LastIndexOf(')');
                string name = stat[(stat.IndexOf('(') + 1)..close];
                int parent = int.Parse(stat[(close + 2)..].Split(' ')[1]);
                parents[pid] = (parent, name);
            }
            catch (IOException)
            {
                // The process ended while we looked.
            }
        }

        int self = Environment.ProcessId;
        var found = new List<string>();
        foreach (var (pid, (_, name)) in parents)
        {
            int current = pid;
            for (int depth = 0; depth < 64 && parents.TryGetValue(current, out var entry); depth++)
            {
                if (entry.Parent == self)
                {
                    if (name is "bwrap" or "python3" or "prlimit" or "setpriv")
                    {
                        found.Add($"{pid} {name}");
                    }

                    break;
                }

                current = entry.Parent;
            }
        }

        return found;
    }

    private static string Args(string code) => JsonSerializer.Serialize(new { code });

    internal static BuiltinToolCall Call(string arguments)
    {
        using var document = JsonDocument.Parse(arguments);
        return new BuiltinToolCall(document.RootElement.Clone(), QlaudCaller.InProcess, "call_1");
    }
}
