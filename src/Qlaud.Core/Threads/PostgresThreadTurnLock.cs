using Npgsql;

namespace Qlaud.Threads;

/// <summary>Serializes a thread's turns across every gateway instance sharing one PostgreSQL database: a session-level
/// advisory lock on the thread id, held on a connection of its own for the turn.</summary>
/// <remarks>
/// Turns of one thread on this node first queue in memory (<see cref="InProcessThreadTurnLock"/>, FIFO), so a node holds at
/// most one database connection per busy thread. The advisory key is <c>(0x514C, hashtext(thread id))</c>: two threads whose
/// ids hash alike only take turns, they never mix. A node that dies mid-turn loses its connection, and PostgreSQL releases the
/// lock with it.
/// </remarks>
internal sealed class PostgresThreadTurnLock(string connectionString) : IThreadTurnLock
{
    /// <summary>The first half of the advisory key ("QL"), keeping these locks apart from other users of advisory locks.</summary>
    private const int LockClass = 0x514C;

    private readonly InProcessThreadTurnLock _local = new();

    public async ValueTask<IAsyncDisposable> AcquireAsync(string threadId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(threadId);
        var local = await _local.AcquireAsync(threadId, cancellationToken).ConfigureAwait(false);
        NpgsqlConnection? connection = null;
        try
        {
            connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            var command = new NpgsqlCommand($"SELECT pg_advisory_lock({LockClass}, hashtext($1))", connection) { Parameters = { new() { Value = threadId } } };
            await using (command.ConfigureAwait(false))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            return new Releaser(connection, threadId, local);
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            await local.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private sealed class Releaser(NpgsqlConnection connection, string threadId, IAsyncDisposable local) : IAsyncDisposable
    {
        private int _released;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0)
            {
                return;
            }

            try
            {
                var command = new NpgsqlCommand($"SELECT pg_advisory_unlock({LockClass}, hashtext($1))", connection) { Parameters = { new() { Value = threadId } } };
                await using (command.ConfigureAwait(false))
                {
                    await command.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (NpgsqlException)
            {
                // A broken connection released the lock with the session; closing it below is all that is left to do.
            }
            finally
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                await local.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
