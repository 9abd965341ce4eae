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

    /// <summary>The most one gateway instance leases of a key's remaining budget (or an account's wallet balance) at a time,
    /// in USD; only with <see cref="Provider"/> <c>postgres</c>. Default 1.</summary>
    /// <remarks>A request whose worst case is larger leases what it needs. Larger slices mean fewer database round trips;
    /// smaller ones let the last requests under a cap be served by whichever instance they reach (an instance cannot use
    /// budget another instance holds until that one uses it, hands it back or its lease expires).</remarks>
    public decimal LeaseSliceUsd { get; set; } = 1m;

    /// <summary>The largest share (1–100 %) of what is left of a cap or wallet that one lease takes, so the last part of a
    /// budget is split between the instances that ask for it; only with <c>postgres</c>. Default 100 (the slice alone decides).</summary>
    public int LeaseSlicePercent { get; set; } = 100;

    /// <summary>How long a lease lives without being renewed, in seconds; only with <c>postgres</c>. Default 60.</summary>
    /// <remarks>A live instance renews its leases every quarter of this time and stops using a lease a quarter before it
    /// expires. A crashed instance's leases return to the pool at most this long after its last renewal.</remarks>
    public int LeaseSeconds { get; set; } = 60;
}
