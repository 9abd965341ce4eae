namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Storage</c> section.</summary>
public sealed class StorageOptions
{
    /// <summary>The database connection string; the embedded default is SQLite (<c>Data Source=qlaud.db</c>).</summary>
    public string ConnectionString { get; set; } = "Data Source=qlaud.db";
}
