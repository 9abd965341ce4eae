namespace Qlaud.Connectors.Builtins;

/// <summary>The settings every builtin tool has, in <c>Qlaud:Builtins:{name}</c> (for example <c>Qlaud:Builtins:web_search:ApiKey</c>).</summary>
/// <remarks>A tool with vendor-specific settings derives from this class and adds them.</remarks>
public class BuiltinToolOptions
{
    /// <summary>Whether the tool is offered at all (default <see langword="true"/>; it still needs its key).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The vendor key; when unset, the vendor's conventional environment variable (named in the README per tool).</summary>
    public string? ApiKey { get; set; }

    /// <summary>The vendor API's base URL; when unset, the vendor's published one.</summary>
    public string? BaseUrl { get; set; }

    /// <summary>The flat price of one call in USD before markup; when unset, the tool's default (the vendor's list price).</summary>
    public decimal? PriceUsd { get; set; }

    /// <summary>Longest wait for one call, in seconds (default 30).</summary>
    public double TimeoutSeconds { get; set; } = 30;
}
