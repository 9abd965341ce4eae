namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Storage</c> section.</summary>
public sealed class StorageOptions
{
    /// <summary>The embedded default provider: one SQLite file serving one process.</summary>
    public const string Sqlite = "sqlite";

    /// <summary>The scale-out provider: PostgreSQL, shared by several gateway instances.</summary>
    public const string Postgres = "postgres";

    /// <summary>Which database stores everything: <c>sqlite</c> (the default) or <c>postgres</c>.</summary>
    /// <remarks>With <c>postgres</c>, several gateway instances may share one database: caps and wallet balances stay exact
    /// across them through budget leases (see the README's "Scale out" section).</remarks>
    public string Provider { get; set; } = Sqlite;

    /// <summary>The database connection string; the embedded default is SQLite (<c>Data Source=qlaud.db</c>). With
    /// <see cref="Provider"/> <c>postgres</c>, an Npgsql connection string such as
    /// <c>Host=db;Database=qlaud;Username=qlaud;Password=...</c>.</summary>
    public string ConnectionString { get; set; } = "Data Source=qlaud.db";

    /// <summary>The folder that holds the content of uploaded and generated files (<c>/v1/files</c>); by default
    /// <c>qlaud-files</c> beside the SQLite database (or the working directory when the connection names no file).</summary>
    public string? FilesPath { get; set; }
}
