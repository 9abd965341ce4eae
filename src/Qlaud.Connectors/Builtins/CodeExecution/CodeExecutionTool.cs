using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Connectors.Tools;

namespace Qlaud.Connectors.Builtins.CodeExecution;

/// <summary>The <c>code_execution</c> builtin: runs the model's Python program in a sandbox, E2B's or a local bubblewrap one,
/// and returns <c>{stdout, stderr, exit_code, timed_out, truncated}</c>.</summary>
/// <remarks>A program that fails (non-zero exit, a limit hit, the timeout) is an error result naming the cause, with the same
/// JSON after it. The local backend costs nothing by default (it runs on the gateway's machine); E2B's default price is
/// <see cref="E2BDefaultPriceMicros"/>.</remarks>
internal sealed class CodeExecutionTool : BuiltinTool
{
    /// <summary>The tool's name and configuration section.</summary>
    public const string ToolName = "code_execution";

    /// <summary>The default price of an E2B call, $0.0012: a <c>code-interpreter-v1</c> sandbox (2 vCPU, 2 GiB) at E2B's list
    /// price of $0.000014 per vCPU-second and $0.0000045 per GiB-second costs $0.000037 a second, so $0.00115 for the default
    /// 30-second limit plus about a second of start-up, rounded up.</summary>
    public const long E2BDefaultPriceMicros = 1_200;

    /// <summary>The longest program accepted, in characters.</summary>
    public const int MaxCodeChars = 100_000;

    private readonly CodeExecutionOptions _options;
    private readonly Lazy<Backend> _backend;
    private readonly LocalSandbox _local;
    private readonly E2BSandbox? _e2b;

    public CodeExecutionTool(IOptions<CodeExecutionOptions> options, IConfiguration configuration, IHttpClientFactory httpClientFactory,
        TimeProvider time, ILogger<CodeExecutionTool> logger)
    {
        _options = options.Value;
        string? key = _options.ApiKey is { Length: > 0 } configured ? configured : configuration["E2B_API_KEY"] is { Length: > 0 } env ? env : null;
        _local = new LocalSandbox(_options, time, logger);
        _e2b = key is null ? null : new E2BSandbox(_options, key, httpClientFactory, time, logger);
        _backend = new Lazy<Backend>(Resolve, LazyThreadSafetyMode.ExecutionAndPublication);
        InputSchema = QlaudFunction.Schema($$"""
            {
              "type": "object",
              "properties": {
                "code": { "type": "string", "description": "The whole Python 3 program, run as a script. Print what you want to see." },
                "timeout_seconds": { "type": "integer", "minimum": 1, "maximum": {{MaxTimeoutSeconds.ToString(CultureInfo.InvariantCulture)}},
                  "description": "Wall-clock limit for this run in seconds (default and maximum {{MaxTimeoutSeconds.ToString(CultureInfo.InvariantCulture)}})." }
              },
              "required": ["code"],
              "additionalProperties": false
            }
            """);
    }

    private enum Backend
    {
        None,
        Local,
        E2B,
    }

    /// <summary>Registers the tool, its options (validated at start-up) and its HTTP client.</summary>
    public static void Add(IServiceCollection services)
    {
        BuiltinRegistration.AddBuiltin<CodeExecutionTool, CodeExecutionOptions>(services, ToolName);
        services.AddOptions<CodeExecutionOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CodeExecutionOptions>, CodeExecutionOptionsValidator>());
    }

    public override string Name => ToolName;

    public override string Description => _backend.Value == Backend.Local
        ? $"Runs a Python 3 program (standard library only) in an isolated sandbox with no network access and returns its stdout, stderr and exit code. " +
          $"Every call starts from scratch: files and variables do not persist, so print everything you need. Only /tmp, the working directory, is writable. " +
          $"Limits: {MaxTimeoutSeconds} s wall clock, {_options.CpuSeconds} s CPU, {_options.MemoryMb} MB memory, {_options.MaxProcesses} processes, " +
          $"{_options.DiskMb} MB of files, {_options.MaxOutputChars:N0} characters of output per stream."
        : $"Runs a Python 3 program in an isolated cloud sandbox and returns its stdout, stderr and exit code (and the value of a last bare expression). " +
          $"Every call starts from scratch: files and variables do not persist, so print everything you need. " +
          $"{(_options.AllowInternetAccess ? "The sandbox can reach the internet." : "The sandbox has no internet access.")} Limit: {MaxTimeoutSeconds} s wall clock.";

    public override JsonElement InputSchema { get; }

    public override bool IsAvailable => _backend.Value != Backend.None;

    public override long PriceMicros => BuiltinRegistration.Price(_options, _backend.Value == Backend.E2B ? E2BDefaultPriceMicros : 0);

    private int MaxTimeoutSeconds => Math.Max(1, (int)Math.Floor(_options.TimeoutSeconds));

    public override async Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var backend = _backend.Value;
        if (backend == Backend.None)
        {
            return BuiltinToolResult.Error("code_execution is not available on this gateway.");
        }

        if (call.String("code") is not { } code || string.IsNullOrWhiteSpace(code))
        {
            return BuiltinToolResult.Error("Bad arguments: \"code\" is required, a string holding the Python program.");
        }

        if (code.Length > MaxCodeChars)
        {
            return BuiltinToolResult.Error($"Bad arguments: \"code\" is {code.Length:N0} characters long; at most {MaxCodeChars:N0} are accepted.");
        }

        int seconds = MaxTimeoutSeconds;
        var requested = call.Get("timeout_seconds");
        if (requested.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
        {
            if (call.Integer("timeout_seconds") is not { } wanted || wanted < 1)
            {
                return BuiltinToolResult.Error($"Bad arguments: \"timeout_seconds\" must be a whole number of seconds from 1 to {seconds}.");
            }

            seconds = (int)Math.Min(wanted, seconds);
        }

        var timeout = TimeSpan.FromSeconds(seconds);
        if (backend == Backend.E2B)
        {
            return await _e2b!.RunAsync(code, timeout, cancellationToken).ConfigureAwait(false);
        }

        var run = await _local.RunAsync(code, timeout, cancellationToken).ConfigureAwait(false);
        return run.ToResult();
    }

    private Backend Resolve()
    {
        if (!_options.Enabled)
        {
            return Backend.None;
        }

        return _options.Backend?.ToUpperInvariant() switch
        {
            "E2B" => _e2b is null ? Backend.None : Backend.E2B,
            "LOCAL" => _local.IsAvailable ? Backend.Local : Backend.None,
            _ => _e2b is not null ? Backend.E2B : _local.IsAvailable ? Backend.Local : Backend.None,
        };
    }
}
