namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Bootstrap</c> section.</summary>
public sealed class BootstrapOptions
{
    /// <summary>A master key (<c>qlk_live_…</c>) the gateway accepts from the start; it administers the default account.</summary>
    public string? MasterKey { get; set; }
}
