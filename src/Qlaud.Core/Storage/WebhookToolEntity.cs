namespace Qlaud.Storage;

/// <summary>A tool an app registered (<c>POST /v1/tools</c>): the model's calls are POSTed, signed, to its URL.</summary>
internal sealed class WebhookToolEntity
{
    /// <summary><c>tool_</c> and 26 base32 characters.</summary>
    public required string Id { get; set; }

    public required string AccountId { get; set; }

    /// <summary>The only end user whose model sees the tool; the empty string for every end user of the account.</summary>
    public required string EndUserId { get; set; }

    /// <summary>The name the model sees; unique in the account.</summary>
    public required string Name { get; set; }

    public required string Description { get; set; }

    /// <summary>The JSON schema of the tool's input, as registered.</summary>
    public required string InputSchemaJson { get; set; }

    public required string Url { get; set; }

    /// <summary>The signing secret, protected with ASP.NET Core Data Protection (purpose per account).</summary>
    public required string SecretCipher { get; set; }

    public long CreatedAtMs { get; set; }
}
