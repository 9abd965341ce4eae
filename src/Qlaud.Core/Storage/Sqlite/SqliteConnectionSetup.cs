using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Qlaud.Storage.Sqlite;

/// <summary>Per-connection SQLite settings, applied each time EF opens a connection (they are not stored in the file).</summary>
/// <remarks>
/// <c>synchronous=NORMAL</c>: in WAL mode a commit is then durable against a process crash and only a power loss can drop
/// the last commits; the default (<c>FULL</c>) adds an fsync to every commit, which blocks the ledger writer for
/// milliseconds per batch for protection the ledger does not need beyond what WAL gives. (A writer that finds the database
/// locked by another connection's transaction is retried by Microsoft.Data.Sqlite itself, up to the command timeout.)
/// </remarks>
internal sealed class SqliteConnectionSetup : DbConnectionInterceptor
{
    public static SqliteConnectionSetup Instance { get; } = new();

    private const string Pragmas = "PRAGMA synchronous=NORMAL;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.CommandText = Pragmas;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
