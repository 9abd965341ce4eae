namespace Qlaud.Storage;

/// <summary>One key of the Data Protection key ring that protects connector credentials, as the XML Data Protection writes.</summary>
internal sealed class DataProtectionKeyEntity
{
    public int Id { get; set; }

    public string? FriendlyName { get; set; }

    public required string Xml { get; set; }
}
