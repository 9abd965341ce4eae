namespace Qlaud.Storage;

/// <summary>A file of the <c>/v1/files</c> API: its metadata; the content is a file named by <see cref="Id"/> in <c>Qlaud:Storage:FilesPath</c>.</summary>
internal sealed class BatchFileEntity
{
    /// <summary><c>file-</c> and 26 base32 characters.</summary>
    public required string Id { get; set; }

    public required string AccountId { get; set; }

    /// <summary>The end user the file belongs to (the uploading key's), if any.</summary>
    public string? EndUserId { get; set; }

    /// <summary>The key that uploaded the file, or whose batch produced it.</summary>
    public string? KeyId { get; set; }

    public required string Filename { get; set; }

    /// <summary><c>batch</c> (uploaded input) or <c>batch_output</c> (results Qlaud wrote).</summary>
    public required string Purpose { get; set; }

    public long Bytes { get; set; }

    public long CreatedAtMs { get; set; }
}
