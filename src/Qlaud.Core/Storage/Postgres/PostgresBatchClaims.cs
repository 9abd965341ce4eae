using Npgsql;
using Qlaud.Batches;

namespace Qlaud.Storage.Postgres;

/// <summary>Batch claims on PostgreSQL: each claim is one statement that locks the rows it takes with
/// <c>FOR UPDATE SKIP LOCKED</c> and stamps them with the instance's id and an expiry (<c>claimed_by</c>,
/// <c>claimed_until_ms</c>), so two instances never take the same request or batch, and one never waits for another.</summary>
/// <remarks>The claim columns are read and written only by these statements, not through the EF model (migration
/// <c>BatchClaims</c>), so SQLite's model stays as it is.</remarks>
internal sealed class PostgresBatchClaims(string connectionString) : IBatchClaims
{
    private const string ClaimPendingSql = """
        UPDATE batch_requests r SET claimed_by = @node, claimed_until_ms = @until
        FROM (SELECT "Id" FROM batch_requests
              WHERE "BatchId" = @batch AND "State" = 'Pending' AND "Index" > @after
                AND (claimed_until_ms IS NULL OR claimed_until_ms < @now)
              ORDER BY "Index" LIMIT @take FOR UPDATE SKIP LOCKED) c
        WHERE r."Id" = c."Id"
        RETURNING r."Id", r."Index", r."CustomId", r."Body"
        """;

    private const string ConfirmSql = """
        UPDATE batch_requests SET claimed_until_ms = @until
        WHERE "Id" = @id AND claimed_by = @node AND "State" = 'Pending' AND claimed_until_ms >= @now
        """;

    private const string ClaimBatchSql = """
        UPDATE batches b SET claimed_by = @node, claimed_until_ms = @until
        FROM (SELECT "Id" FROM batches
              WHERE "Id" = @batch AND (claimed_by IS NULL OR claimed_by = @node OR claimed_until_ms < @now)
              FOR UPDATE SKIP LOCKED) c
        WHERE b."Id" = c."Id"
        """;

    private const string ReleaseBatchSql = """
        UPDATE batches SET claimed_by = NULL, claimed_until_ms = NULL WHERE "Id" = @batch AND claimed_by = @node
        """;

    private const string RenewSql = """
        UPDATE batch_requests SET claimed_until_ms = @until WHERE claimed_by = @node AND "State" = 'Pending';
        UPDATE batches SET claimed_until_ms = @until WHERE claimed_by = @node;
        """;

    private const string ReleaseAllSql = """
        UPDATE batch_requests SET claimed_by = NULL, claimed_until_ms = NULL WHERE claimed_by = @node AND "State" = 'Pending';
        UPDATE batches SET claimed_by = NULL, claimed_until_ms = NULL WHERE claimed_by = @node;
        """;

    private const string EndPendingSql = """
        UPDATE batch_requests SET "State" = @state, "FinishedAtMs" = @now
        WHERE "BatchId" = @batch AND "State" = 'Pending'
          AND (claimed_by IS NULL OR claimed_by = @node OR claimed_until_ms < @now)
        """;

    public async Task<List<BatchRequestEntity>> ClaimPendingAsync(string nodeId, string batchId, int afterIndex, int take, long nowMs, long untilMs,
        CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(ClaimPendingSql, connection);
        command.Parameters.AddWithValue("node", nodeId);
        command.Parameters.AddWithValue("until", untilMs);
        command.Parameters.AddWithValue("batch", batchId);
        command.Parameters.AddWithValue("after", afterIndex);
        command.Parameters.AddWithValue("now", nowMs);
        command.Parameters.AddWithValue("take", take);
        var claimed = new List<BatchRequestEntity>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                claimed.Add(new BatchRequestEntity
                {
                    Id = reader.GetInt64(0),
                    BatchId = batchId,
                    Index = reader.GetInt32(1),
                    CustomId = reader.GetString(2),
                    Body = (byte[])reader.GetValue(3),
                    State = nameof(BatchRequestState.Pending),
                });
            }
        }

        claimed.Sort(static (a, b) => a.Index.CompareTo(b.Index));
        return claimed;
    }

    public async Task<bool> ConfirmAsync(string nodeId, long requestId, long nowMs, long untilMs, CancellationToken cancellationToken) =>
        await ExecuteAsync(ConfirmSql, cancellationToken, ("node", nodeId), ("id", requestId), ("now", nowMs), ("until", untilMs)).ConfigureAwait(false) == 1;

    public async Task<bool> ClaimBatchAsync(string nodeId, string batchId, long nowMs, long untilMs, CancellationToken cancellationToken) =>
        await ExecuteAsync(ClaimBatchSql, cancellationToken, ("node", nodeId), ("batch", batchId), ("now", nowMs), ("until", untilMs)).ConfigureAwait(false) == 1;

    public Task ReleaseBatchAsync(string nodeId, string batchId, CancellationToken cancellationToken) =>
        ExecuteAsync(ReleaseBatchSql, cancellationToken, ("node", nodeId), ("batch", batchId));

    public Task RenewAsync(string nodeId, long untilMs, CancellationToken cancellationToken) =>
        ExecuteAsync(RenewSql, cancellationToken, ("node", nodeId), ("until", untilMs));

    public Task ReleaseAllAsync(string nodeId, CancellationToken cancellationToken) =>
        ExecuteAsync(ReleaseAllSql, cancellationToken, ("node", nodeId));

    public Task<int> EndPendingAsync(string nodeId, string batchId, BatchRequestState state, long nowMs, CancellationToken cancellationToken) =>
        ExecuteAsync(EndPendingSql, cancellationToken, ("node", nodeId), ("batch", batchId), ("state", state.ToString()), ("now", nowMs));

    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
