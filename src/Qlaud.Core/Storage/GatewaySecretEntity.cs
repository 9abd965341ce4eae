namespace Qlaud.Storage;

/// <summary>A secret the gateway generated for itself and keeps across restarts (and shares between instances on one database).</summary>
internal sealed class GatewaySecretEntity
{
    /// <summary>The name of the secret that signs translated thinking blocks.</summary>
    public const string ThinkingSignatureName = "thinking_signature";

    public required string Name { get; set; }

    /// <summary>The secret's bytes, base64.</summary>
    public required string Value { get; set; }

    public long CreatedAtMs { get; set; }
}
