namespace Qlaud.Connectors.Builtins.Notion;

/// <summary>Settings of <c>notion_append</c>, in <c>Qlaud:Builtins:notion_append</c>. The key is a Notion integration token
/// (<see cref="BuiltinToolOptions.ApiKey"/>, else <c>NOTION_TOKEN</c>, else <c>NOTION_API_KEY</c>); pages must be shared with
/// the integration.</summary>
public sealed class NotionAppendOptions : BuiltinToolOptions
{
    /// <summary>The API version sent as <c>Notion-Version</c> (default <c>2026-03-11</c>, the current version).</summary>
    public string NotionVersion { get; set; } = "2026-03-11";
}
