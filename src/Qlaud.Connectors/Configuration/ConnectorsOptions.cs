namespace Qlaud.Connectors;

/// <summary>The <c>Qlaud:Connectors</c> section: the catalog's additions and overrides, which connectors each account may use,
/// connect links and the limits of the tool loop.</summary>
/// <remarks>Validated at start-up; an error names the key.</remarks>
public sealed class ConnectorsOptions
{
    /// <summary>The configuration section, <c>Qlaud:Connectors</c>.</summary>
    public const string SectionName = "Qlaud:Connectors";

    /// <summary>Whether the built-in catalog file is loaded (default <see langword="true"/>).</summary>
    public bool UseBuiltInCatalog { get; set; } = true;

    /// <summary>Servers by id: a new id adds a connector, a built-in id overrides that entry field by field.</summary>
    public Dictionary<string, ConnectorServerOptions> Servers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Connector ids every account may use; empty (the default) allows every connector of the catalog.</summary>
    public List<string> Allow { get; set; } = [];

    /// <summary>Connector ids no account may use.</summary>
    public List<string> Deny { get; set; } = [];

    /// <summary>Per account (by account id): its own allow list (replacing <see cref="Allow"/>) and deny list (added to <see cref="Deny"/>).</summary>
    public Dictionary<string, ConnectorAccessOptions> Accounts { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How long a connect link stays usable, in minutes (1–1440, default 15).</summary>
    public double ConnectLinkMinutes { get; set; } = 15;

    /// <summary>The gateway's public base URL for connect links (<c>https://gateway.example.com</c>); when unset, the base URL of the
    /// request that asked for the link.</summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>Whether connector servers and <c>mcp_servers</c> may be on private, loopback or link-local addresses (default false).</summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>Longest wait for a connector server to answer one call (listing tools, calling one), in seconds (1–600, default 30).</summary>
    public double ToolCallTimeoutSeconds { get; set; } = 30;

    /// <summary>Most model round trips of one tool loop (1–50, default 8); the loop's last answer is kept when it is reached.</summary>
    public int MaxToolRounds { get; set; } = 8;

    /// <summary>Most characters of one tool result fed back to the model (256–1000000, default 20000); longer results are cut with a note.</summary>
    public int MaxToolResultChars { get; set; } = 20_000;

    /// <summary>Most calls of one <c>qlaud_multi_execute</c> run at once (1–32, default 4).</summary>
    public int MaxParallelCalls { get; set; } = 4;

    /// <summary>The <c>tools_mode</c> of a thread turn that sends neither <c>tools_mode</c> nor <c>tools</c>: <c>dynamic</c> (the default),
    /// <c>static</c> or <c>none</c>. A turn with its own <c>tools</c> defaults to <c>none</c>.</summary>
    public string DefaultToolsMode { get; set; } = "dynamic";

    /// <summary>Most tools offered directly in <c>static</c> mode (1–512, default 64).</summary>
    public int MaxStaticTools { get; set; } = 64;
}
