namespace Qlaud.Storage;

/// <summary>A minted API key. The secret is never stored: only its SHA-256 (<see cref="KeyHash"/>) and a short display prefix.</summary>
internal sealed class ApiKeyEntity
{
    public required string Id { get; set; }

    public required string AccountId { get; set; }

    public string? Name { get; set; }

    /// <summary><c>standard</c> or <c>admin</c>.</summary>
    public required string Scope { get; set; }

    public string? EndUserId { get; set; }

    /// <summary>Lower-case hex SHA-256 of the secret's UTF-8 bytes.</summary>
    public required string KeyHash { get; set; }

    /// <summary>The first characters of the secret, for recognising a key in lists.</summary>
    public required string Prefix { get; set; }

    /// <summary>The spend cap in micro-USD per period; null for no cap.</summary>
    public long? MaxSpendMicros { get; set; }

    /// <summary><c>none</c> (lifetime), <c>daily</c>, <c>weekly</c> or <c>monthly</c>.</summary>
    public required string LimitReset { get; set; }

    public long? ExpiresAtMs { get; set; }

    public int? RpmLimit { get; set; }

    public int? TpmLimit { get; set; }

    public bool Disabled { get; set; }

    public long? RevokedAtMs { get; set; }

    public long CreatedAtMs { get; set; }

    public long? LastUsedAtMs { get; set; }

    /// <summary>Charged spend over the key's lifetime, in micro-USD.</summary>
    public long SpendMicros { get; set; }

    /// <summary>Charged spend in the period that started at <see cref="PeriodStartMs"/>.</summary>
    public long PeriodSpendMicros { get; set; }

    /// <summary>Start of the current cap period (0 for lifetime caps).</summary>
    public long PeriodStartMs { get; set; }
}
