namespace Qlaud.Connectors.Builtins.CodeExecution;

/// <summary>The settings of the <c>code_execution</c> builtin, in <c>Qlaud:Builtins:code_execution</c>.</summary>
/// <remarks>
/// <para>Two backends run the model's Python: E2B's hosted sandboxes (<see cref="BuiltinToolOptions.ApiKey"/> or the environment
/// variable <c>E2B_API_KEY</c>; <see cref="BuiltinToolOptions.BaseUrl"/> defaults to <c>https://api.e2b.app</c>) and a local,
/// offline <c>bubblewrap</c> sandbox on this machine. <see cref="Backend"/> picks one; unset, E2B is used when its key is set,
/// else the local sandbox when <c>bwrap</c> and <c>python3</c> exist and a trial run in the sandbox succeeds. With neither, the
/// tool is absent.</para>
/// <para><see cref="BuiltinToolOptions.TimeoutSeconds"/> is the longest wall-clock time a program may run (the model's
/// <c>timeout_seconds</c> can only shorten it). The remaining limits apply to the local sandbox.</para>
/// </remarks>
public sealed class CodeExecutionOptions : BuiltinToolOptions
{
    /// <summary><c>local</c> (bubblewrap on this machine) or <c>e2b</c>; unset picks E2B when its key is set, else local.</summary>
    public string? Backend { get; set; }

    /// <summary>Local sandbox: CPU time a program may use, in seconds (RLIMIT_CPU; default 10).</summary>
    public int CpuSeconds { get; set; } = 10;

    /// <summary>Local sandbox: address space of each process, in MB (RLIMIT_AS; default 512).</summary>
    public int MemoryMb { get; set; } = 512;

    /// <summary>Local sandbox: processes and threads the program may have at once (RLIMIT_NPROC; default 32).</summary>
    public int MaxProcesses { get; set; } = 32;

    /// <summary>Local sandbox: size of the throw-away working directory <c>/tmp</c> (a tmpfs) and of any one file, in MB (default 64).</summary>
    public int DiskMb { get; set; } = 64;

    /// <summary>Characters kept of each of stdout and stderr; the rest is cut with a note (default 20,000). Both backends.</summary>
    public int MaxOutputChars { get; set; } = 20_000;

    /// <summary>Local sandbox: programs that run at once; further calls wait for a slot within their timeout (default 4).</summary>
    public int MaxConcurrent { get; set; } = 4;

    /// <summary>Local sandbox: the bubblewrap executable (default <c>/usr/bin/bwrap</c>, Debian package <c>bubblewrap</c>).</summary>
    public string BwrapPath { get; set; } = "/usr/bin/bwrap";

    /// <summary>Local sandbox: the Python interpreter (default <c>/usr/bin/python3</c>). It must lie under <c>/usr</c> or a
    /// directory in <see cref="ReadOnlyBinds"/>, since nothing else of the host is visible in the sandbox.</summary>
    public string PythonPath { get; set; } = "/usr/bin/python3";

    /// <summary>Local sandbox: util-linux <c>prlimit</c>, which sets the limits inside the sandbox (default <c>/usr/bin/prlimit</c>).</summary>
    public string PrlimitPath { get; set; } = "/usr/bin/prlimit";

    /// <summary>Local sandbox: util-linux <c>setpriv</c> (default <c>/usr/bin/setpriv</c>), used only when the gateway runs as
    /// root to start the sandbox as <see cref="SandboxUserId"/>: the kernel does not enforce the process limit for root.</summary>
    public string SetprivPath { get; set; } = "/usr/bin/setpriv";

    /// <summary>Local sandbox: the user and group id the sandbox runs as when the gateway runs as root (default 65534, <c>nobody</c>).</summary>
    public int SandboxUserId { get; set; } = 65534;

    /// <summary>Local sandbox: more host directories made visible read-only (for example a Python installed under <c>/opt</c>).
    /// <c>/usr</c> (with the <c>/bin</c>, <c>/lib</c>, <c>/lib64</c> and <c>/sbin</c> links or directories) is always visible.</summary>
    public IList<string> ReadOnlyBinds { get; } = [];

    /// <summary>E2B: the sandbox template (default <c>code-interpreter-v1</c>, E2B's code interpreter).</summary>
    public string TemplateId { get; set; } = "code-interpreter-v1";

    /// <summary>E2B: the base URL of a sandbox's code interpreter, <c>/execute</c> appended; <c>{sandboxID}</c> and <c>{domain}</c>
    /// (the sandbox's domain from E2B, else <c>e2b.app</c>) are replaced. Default <c>https://49999-{sandboxID}.{domain}</c>,
    /// the address E2B's SDKs build.</summary>
    public string SandboxUrlTemplate { get; set; } = "https://49999-{sandboxID}.{domain}";

    /// <summary>E2B: whether the sandbox may reach the internet (default <see langword="false"/>, like the local sandbox).</summary>
    public bool AllowInternetAccess { get; set; }
}
