namespace Qlaud.Storage;

/// <summary>An end user's connection to one connector: its state and its credentials, encrypted.</summary>
internal sealed class ConnectionEntity
{
    /// <summary><c>conn_</c> and 26 base32 characters.</summary>
    public required string Id { get; set; }

    public required string AccountId { get; set; }

    /// <summary>The app's end user; the empty string for a connection of the account itself (no end user).</summary>
    public required string EndUserId { get; set; }

    /// <summary>The connector's catalog id.</summary>
    public required string ConnectorId { get; set; }

    /// <summary>The server URL (or local command) the credentials were issued for: they are sent to this server only.</summary>
    public required string ServerUrl { get; set; }

    /// <summary><c>pending</c>, <c>active</c>, <c>error</c> or <c>revoked</c>.</summary>
    public required string Status { get; set; }

    /// <summary>The credentials, protected with ASP.NET Core Data Protection (purpose per account); null when none are held.</summary>
    public string? CredentialCipher { get; set; }

    /// <summary>Bumped on every credential write: a refresh replaces the credentials only when nobody replaced them since it read them.</summary>
    public long CredentialVersion { get; set; }

    /// <summary>Why the connection is in <c>error</c>.</summary>
    public string? Error { get; set; }

    public long CreatedAtMs { get; set; }

    public long UpdatedAtMs { get; set; }

    public long? LastUsedAtMs { get; set; }
}
