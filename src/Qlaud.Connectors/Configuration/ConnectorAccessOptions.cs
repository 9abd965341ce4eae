namespace Qlaud.Connectors;

/// <summary>Which connectors one account may use (<c>Qlaud:Connectors:Accounts:{account}</c>).</summary>
public sealed class ConnectorAccessOptions
{
    /// <summary>Connector ids the account may use; empty keeps the gateway-wide <c>Qlaud:Connectors:Allow</c>.</summary>
    public List<string> Allow { get; set; } = [];

    /// <summary>Connector ids the account may not use, in addition to <c>Qlaud:Connectors:Deny</c>.</summary>
    public List<string> Deny { get; set; } = [];
}
