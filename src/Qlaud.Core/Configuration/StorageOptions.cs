namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Storage</c> section.</summary>
public sealed class StorageOptions
{
    /// <summary>The database connection string; the embedded default is SQLite (<c>Data Source=qlaud.db</c>).</summary>
    public string ConnectionString { get; set; } = "Data Source=qlaud.db";

    /// <summary>The folder that holds the content of uploaded and generated files (<c>/v1/files</c>); by default
    /// <c>qlaud-files</c> beside the SQLite database (or the working directory when the connection names no file).</summary>
    public string? FilesPath { get; set; }
}
