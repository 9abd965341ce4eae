using System.Collections.Concurrent;

namespace Qlaud.Connectors.Mcp;

/// <summary>The tools each connector's server was last seen to offer, learned whenever a connection lists them (connecting,
/// searching, static mode), keyed by connector and server address so a changed URL starts afresh.</summary>
internal sealed class ToolIndex
{
    private readonly ConcurrentDictionary<(string Connector, string Address), IReadOnlyList<ConnectorTool>> _tools = new();

    public void Remember(ConnectorDefinition connector, IReadOnlyList<ConnectorTool> tools) => _tools[(connector.Id, connector.Address)] = tools;

    public IReadOnlyList<ConnectorTool>? Known(ConnectorDefinition connector)
        => _tools.TryGetValue((connector.Id, connector.Address), out var tools) ? tools : null;
}
