namespace Qlaud.Storage;

/// <summary>A one-time connect link: only the SHA-256 of its 256-bit token is stored.</summary>
internal sealed class ConnectTokenEntity
{
    /// <summary>Lower-case hex SHA-256 of the token.</summary>
    public required string TokenHash { get; set; }

    public required string ConnectionId { get; set; }

    public required string AccountId { get; set; }

    /// <summary>The end user the link connects; the empty string for the account itself.</summary>
    public required string EndUserId { get; set; }

    public required string ConnectorId { get; set; }

    /// <summary>For OAuth connectors: the PKCE verifier, the registered client and the authorization server, protected like
    /// credentials; null until the flow starts.</summary>
    public string? FlowCipher { get; set; }

    /// <summary>Hex SHA-256 of the OAuth <c>state</c> sent to the authorization server; null until the flow starts.</summary>
    public string? StateHash { get; set; }

    public long CreatedAtMs { get; set; }

    public long ExpiresAtMs { get; set; }

    /// <summary>When the link was used; a used link is refused.</summary>
    public long? UsedAtMs { get; set; }
}
