using System.Text.Json;

namespace Qlaud.Connectors;

/// <summary>A tool of a connector's server.</summary>
/// <param name="ConnectorId">The connector.</param>
/// <param name="Name">The tool's name on its server.</param>
/// <param name="Description">The server's description of it.</param>
/// <param name="InputSchema">The JSON schema of its arguments.</param>
public sealed record ConnectorTool(string ConnectorId, string Name, string Description, JsonElement InputSchema)
{
    /// <summary>The separator of <see cref="QualifiedName"/>.</summary>
    public const string Separator = "__";

    /// <summary>The name the model sees: <c>{connector}__{tool}</c>, so two servers' tools of the same name never shadow each other.</summary>
    public string QualifiedName => ConnectorId + Separator + Name;

    /// <summary>Splits a qualified name into connector and tool; false when it has no separator.</summary>
    public static bool TrySplit(string qualified, out string connectorId, out string tool)
    {
        ArgumentNullException.ThrowIfNull(qualified);
        int at = qualified.IndexOf(Separator, StringComparison.Ordinal);
        if (at <= 0 || at + Separator.Length >= qualified.Length)
        {
            connectorId = tool = "";
            return false;
        }

        connectorId = qualified[..at];
        tool = qualified[(at + Separator.Length)..];
        return true;
    }
}
