using Npgsql;
using NpgsqlTypes;
using Qlaud.Metering.Leasing;

namespace Qlaud.Storage.Postgres;

/// <summary>Budget leases on PostgreSQL: each statement is one atomic SQL statement (data-modifying CTEs), so the leased
/// totals on the key and wallet rows always equal the sum of their lease rows.</summary>
/// <remarks>
/// <para>A grant locks the key (or wallet) row (<c>SELECT … FOR UPDATE</c>, which in READ COMMITTED reads the newest committed
/// version), computes the pool from it, and only when the pool covers the need adds to the row's <c>LeasedMicros</c> and to
/// the instance's lease row, all in the same statement; concurrent grants on one subject queue on the row lock, so two
/// instances can never both take the same budget.</para>
/// <para>Lock order: a grant takes the subject row, then the lease row; so does the ledger writer (<see cref="ConsumeSql"/>, wallets
/// before keys), before its balance and spend updates (wallets before keys). Reclaiming and handing back delete lease rows
/// first; they never race a grant on the same lease row (an instance only adds to its own lease while it is valid), and a
/// deadlock with a late ledger write of a lapsed lease is broken by PostgreSQL and retried by the writer.</para>
/// </remarks>
internal sealed class PostgresBudgetLeaseStore(string connectionString) : IBudgetLeaseStore
{
    private const string KeyGrantSql = """
        WITH cur AS (
            SELECT "MaxSpendMicros" - (CASE WHEN "PeriodStartMs" < @period THEN 0 ELSE "PeriodSpendMicros" END) - "LeasedMicros" AS pool
            FROM "ApiKeys" WHERE "Id" = @subject AND "MaxSpendMicros" IS NOT NULL FOR UPDATE),
        g AS (SELECT LEAST(pool, GREATEST(@need, LEAST(@slice, pool * @percent / 100))) AS granted FROM cur WHERE pool >= @need),
        s AS (UPDATE "ApiKeys" SET "LeasedMicros" = "LeasedMicros" + g.granted FROM g WHERE "Id" = @subject RETURNING g.granted),
        l AS (INSERT INTO budget_leases AS b (subject_kind, subject_id, node_id, amount_micros, expires_at_ms)
              SELECT 0, @subject, @node, granted, @expires FROM s
              ON CONFLICT (subject_kind, subject_id, node_id) DO UPDATE
                  SET amount_micros = b.amount_micros + excluded.amount_micros, expires_at_ms = excluded.expires_at_ms
              RETURNING (b.xmax = 0) AS inserted)
        SELECT (SELECT pool FROM cur), (SELECT granted FROM s), (SELECT inserted FROM l)
        """;

    private const string WalletGrantSql = """
        WITH cur AS (
            SELECT "BalanceMicros" - "LeasedMicros" AS pool FROM "Wallets" WHERE "AccountId" = @subject FOR UPDATE),
        g AS (SELECT LEAST(pool, GREATEST(@need, LEAST(@slice, pool * @percent / 100))) AS granted FROM cur WHERE pool >= @need),
        s AS (UPDATE "Wallets" SET "LeasedMicros" = "LeasedMicros" + g.granted FROM g WHERE "AccountId" = @subject RETURNING g.granted),
        l AS (INSERT INTO budget_leases AS b (subject_kind, subject_id, node_id, amount_micros, expires_at_ms)
              SELECT 1, @subject, @node, granted, @expires FROM s
              ON CONFLICT (subject_kind, subject_id, node_id) DO UPDATE
                  SET amount_micros = b.amount_micros + excluded.amount_micros, expires_at_ms = excluded.expires_at_ms
              RETURNING (b.xmax = 0) AS inserted)
        SELECT (SELECT pool FROM cur), (SELECT granted FROM s), (SELECT inserted FROM l)
        """;

    /// <summary>Moves up to <c>@amount</c> out of one lease and out of its subject's leased total, as far as the lease row still
    /// holds it, and returns how much it moved: run by the ledger writer, in its transaction, for what it settles against a
    /// lease (the same transaction adds what was moved to the spend or takes it off the balance, and writes off the rest), and
    /// for a partial return. It locks the key (or wallet) row first and then the lease row, as a grant does. A lease that was
    /// reclaimed meanwhile moves nothing: its budget went back to the pool, and another instance may have spent it.</summary>
    internal const string ConsumeSql = """
        WITH ks AS (SELECT 1 FROM "ApiKeys" WHERE @kind = 0 AND "Id" = @subject FOR UPDATE),
        ws AS (SELECT 1 FROM "Wallets" WHERE @kind = 1 AND "AccountId" = @subject FOR UPDATE),
        cur AS (SELECT GREATEST(0, LEAST(amount_micros, @amount)) AS moved FROM budget_leases
                WHERE subject_kind = @kind AND subject_id = @subject AND node_id = @node
                  AND (EXISTS (SELECT 1 FROM ks) OR EXISTS (SELECT 1 FROM ws)) FOR UPDATE),
        l AS (UPDATE budget_leases SET amount_micros = amount_micros - cur.moved FROM cur
              WHERE subject_kind = @kind AND subject_id = @subject AND node_id = @node RETURNING cur.moved),
        k AS (UPDATE "ApiKeys" SET "LeasedMicros" = "LeasedMicros" - l.moved FROM l WHERE @kind = 0 AND "Id" = @subject RETURNING 1),
        w AS (UPDATE "Wallets" SET "LeasedMicros" = "LeasedMicros" - l.moved FROM l WHERE @kind = 1 AND "AccountId" = @subject RETURNING 1)
        SELECT COALESCE((SELECT moved FROM l), 0)
        """;

    /// <summary><see cref="ConsumeSql"/> for many leases of this instance in one statement: <c>@kinds</c>, <c>@subjects</c> and
    /// <c>@amounts</c> are parallel arrays, one element per lease (each lease at most once); returns each lease that moved
    /// anything with how much (a lease not returned covered nothing). Run by the ledger writer on PostgreSQL's batch path,
    /// which has locked the wallet and key rows before it (wallets, then keys, each in id order); the lease rows are locked
    /// here in key order.</summary>
    internal const string ConsumeManySql = """
        WITH v AS (SELECT * FROM unnest(@kinds::smallint[], @subjects::character varying[], @amounts::bigint[]) AS v(kind, subject, amount)),
        cur AS (SELECT b.subject_kind, b.subject_id, GREATEST(0, LEAST(b.amount_micros, v.amount)) AS moved
                FROM budget_leases b JOIN v ON b.subject_kind = v.kind AND b.subject_id = v.subject
                WHERE b.node_id = @node
                  AND (EXISTS (SELECT 1 FROM "ApiKeys" WHERE v.kind = 0 AND "Id" = v.subject)
                       OR EXISTS (SELECT 1 FROM "Wallets" WHERE v.kind = 1 AND "AccountId" = v.subject))
                ORDER BY b.subject_kind DESC, b.subject_id FOR UPDATE OF b),
        l AS (UPDATE budget_leases b SET amount_micros = b.amount_micros - cur.moved FROM cur
              WHERE b.subject_kind = cur.subject_kind AND b.subject_id = cur.subject_id AND b.node_id = @node
              RETURNING b.subject_kind, b.subject_id, cur.moved),
        k AS (UPDATE "ApiKeys" a SET "LeasedMicros" = a."LeasedMicros" - l.moved FROM l
              WHERE l.subject_kind = 0 AND a."Id" = l.subject_id RETURNING 1),
        w AS (UPDATE "Wallets" w SET "LeasedMicros" = w."LeasedMicros" - l.moved FROM l
              WHERE l.subject_kind = 1 AND w."AccountId" = l.subject_id RETURNING 1)
        SELECT subject_kind, subject_id, moved FROM l
        """;

    private const string DeleteSql = """
        WITH gone AS (DELETE FROM budget_leases WHERE (subject_kind, subject_id, node_id) IN (
                          SELECT subject_kind, subject_id, node_id FROM budget_leases WHERE {0} ORDER BY subject_kind, subject_id, node_id FOR UPDATE)
                      RETURNING subject_kind, subject_id, amount_micros),
        sums AS (SELECT subject_kind, subject_id, SUM(amount_micros) AS total FROM gone GROUP BY subject_kind, subject_id),
        k AS (UPDATE "ApiKeys" a SET "LeasedMicros" = a."LeasedMicros" - s.total FROM sums s
              WHERE s.subject_kind = 0 AND a."Id" = s.subject_id RETURNING 1),
        w AS (UPDATE "Wallets" w SET "LeasedMicros" = w."LeasedMicros" - s.total FROM sums s
              WHERE s.subject_kind = 1 AND w."AccountId" = s.subject_id RETURNING 1)
        SELECT count(*) FROM gone
        """;

    private static readonly string ReclaimSql = string.Format(System.Globalization.CultureInfo.InvariantCulture, DeleteSql, "expires_at_ms < @now");

    private static readonly string HandBackSql = string.Format(System.Globalization.CultureInfo.InvariantCulture, DeleteSql, "node_id = @node");

    /// <summary>Rows are locked in key order (as in <see cref="DeleteSql"/>), so two statements over the same rows cannot deadlock each other.</summary>
    private const string RenewSql = """
        UPDATE budget_leases SET expires_at_ms = @expires
        WHERE (subject_kind, subject_id, node_id) IN (
            SELECT subject_kind, subject_id, node_id FROM budget_leases WHERE node_id = @node ORDER BY subject_kind, subject_id FOR UPDATE)
        RETURNING subject_kind, subject_id
        """;

    private const string HeartbeatSql = """
        WITH up AS (INSERT INTO gateway_nodes (node_id, seen_at_ms) VALUES (@node, @now)
                    ON CONFLICT (node_id) DO UPDATE SET seen_at_ms = excluded.seen_at_ms RETURNING 1),
        old AS (DELETE FROM gateway_nodes WHERE seen_at_ms < @since AND node_id <> @node RETURNING 1)
        SELECT count(*) FROM gateway_nodes WHERE seen_at_ms >= @since AND node_id <> @node
        """;

    private const string ForgetNodeSql = "DELETE FROM gateway_nodes WHERE node_id = @node";

    public Task<LeaseGrant> GrantAsync(string nodeId, LeaseSubjectKind kind, string subjectId, long needMicros, long sliceMicros, int slicePercent,
        long periodStartMs, long expiresAtMs, CancellationToken cancellationToken)
        => RetryAsync(() => GrantOnceAsync(nodeId, kind, subjectId, needMicros, sliceMicros, slicePercent, periodStartMs, expiresAtMs, cancellationToken));

    private async Task<LeaseGrant> GrantOnceAsync(string nodeId, LeaseSubjectKind kind, string subjectId, long needMicros, long sliceMicros, int slicePercent,
        long periodStartMs, long expiresAtMs, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(kind == LeaseSubjectKind.Key ? KeyGrantSql : WalletGrantSql, connection);
        command.Parameters.Add(new NpgsqlParameter<string>("subject", NpgsqlDbType.Varchar) { TypedValue = subjectId });
        command.Parameters.Add(new NpgsqlParameter<string>("node", NpgsqlDbType.Varchar) { TypedValue = nodeId });
        command.Parameters.Add(new NpgsqlParameter<long>("need", NpgsqlDbType.Bigint) { TypedValue = Math.Max(1, needMicros) });
        command.Parameters.Add(new NpgsqlParameter<long>("slice", NpgsqlDbType.Bigint) { TypedValue = sliceMicros });
        command.Parameters.Add(new NpgsqlParameter<long>("percent", NpgsqlDbType.Bigint) { TypedValue = slicePercent });
        command.Parameters.Add(new NpgsqlParameter<long>("expires", NpgsqlDbType.Bigint) { TypedValue = expiresAtMs });
        if (kind == LeaseSubjectKind.Key)
        {
            command.Parameters.Add(new NpgsqlParameter<long>("period", NpgsqlDbType.Bigint) { TypedValue = periodStartMs });
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        long? pool = reader.IsDBNull(0) ? null : reader.GetInt64(0);
        long granted = reader.IsDBNull(1) ? 0 : reader.GetInt64(1);
        bool inserted = !reader.IsDBNull(2) && reader.GetBoolean(2);
        return new LeaseGrant(pool, granted, inserted);
    }

    public Task<IReadOnlyCollection<(LeaseSubjectKind Kind, string SubjectId)>> RenewAsync(string nodeId, long expiresAtMs, CancellationToken cancellationToken)
        => RetryAsync(() => RenewOnceAsync(nodeId, expiresAtMs, cancellationToken));

    private async Task<IReadOnlyCollection<(LeaseSubjectKind Kind, string SubjectId)>> RenewOnceAsync(string nodeId, long expiresAtMs, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(RenewSql, connection);
        command.Parameters.Add(new NpgsqlParameter<string>("node", NpgsqlDbType.Varchar) { TypedValue = nodeId });
        command.Parameters.Add(new NpgsqlParameter<long>("expires", NpgsqlDbType.Bigint) { TypedValue = expiresAtMs });
        var held = new List<(LeaseSubjectKind, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            held.Add(((LeaseSubjectKind)reader.GetInt16(0), reader.GetString(1)));
        }

        return held;
    }

    public Task ReturnAsync(string nodeId, LeaseSubjectKind kind, string subjectId, long amountMicros, CancellationToken cancellationToken)
        => RetryAsync(async () =>
        {
            await ReturnOnceAsync(nodeId, kind, subjectId, amountMicros, cancellationToken).ConfigureAwait(false);
            return 0;
        });

    private async Task ReturnOnceAsync(string nodeId, LeaseSubjectKind kind, string subjectId, long amountMicros, CancellationToken cancellationToken)
    {
        // The subject row first, then the lease row: the order of grants and of the ledger writer.
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockSubject = new NpgsqlCommand(kind == LeaseSubjectKind.Key
            ? "SELECT 1 FROM \"ApiKeys\" WHERE \"Id\" = @subject FOR UPDATE"
            : "SELECT 1 FROM \"Wallets\" WHERE \"AccountId\" = @subject FOR UPDATE", connection, transaction))
        {
            lockSubject.Parameters.Add(new NpgsqlParameter<string>("subject", NpgsqlDbType.Varchar) { TypedValue = subjectId });
            await lockSubject.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var command = new NpgsqlCommand(ConsumeSql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<long>("amount", NpgsqlDbType.Bigint) { TypedValue = amountMicros });
        command.Parameters.Add(new NpgsqlParameter<short>("kind", NpgsqlDbType.Smallint) { TypedValue = (short)kind });
        command.Parameters.Add(new NpgsqlParameter<string>("subject", NpgsqlDbType.Varchar) { TypedValue = subjectId });
        command.Parameters.Add(new NpgsqlParameter<string>("node", NpgsqlDbType.Varchar) { TypedValue = nodeId });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task<int> ReclaimExpiredAsync(long nowMs, CancellationToken cancellationToken) => RetryAsync(() => ReclaimOnceAsync(nowMs, cancellationToken));

    private async Task<int> ReclaimOnceAsync(long nowMs, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(ReclaimSql, connection);
        command.Parameters.Add(new NpgsqlParameter<long>("now", NpgsqlDbType.Bigint) { TypedValue = nowMs });
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public Task<int> HandBackAsync(string nodeId, CancellationToken cancellationToken) => RetryAsync(() => HandBackOnceAsync(nodeId, cancellationToken));

    private async Task<int> HandBackOnceAsync(string nodeId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(HandBackSql, connection);
        command.Parameters.Add(new NpgsqlParameter<string>("node", NpgsqlDbType.Varchar) { TypedValue = nodeId });
        int returned = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        await using var forget = new NpgsqlCommand(ForgetNodeSql, connection);
        forget.Parameters.Add(new NpgsqlParameter<string>("node", NpgsqlDbType.Varchar) { TypedValue = nodeId });
        await forget.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return returned;
    }

    public Task<int> HeartbeatAsync(string nodeId, long nowMs, long liveSinceMs, CancellationToken cancellationToken)
        => RetryAsync(() => HeartbeatOnceAsync(nodeId, nowMs, liveSinceMs, cancellationToken));

    private async Task<int> HeartbeatOnceAsync(string nodeId, long nowMs, long liveSinceMs, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(HeartbeatSql, connection);
        command.Parameters.Add(new NpgsqlParameter<string>("node", NpgsqlDbType.Varchar) { TypedValue = nodeId });
        command.Parameters.Add(new NpgsqlParameter<long>("now", NpgsqlDbType.Bigint) { TypedValue = nowMs });
        command.Parameters.Add(new NpgsqlParameter<long>("since", NpgsqlDbType.Bigint) { TypedValue = liveSinceMs });
        long others = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        return (int)others + 1;
    }

    /// <summary>Runs <paramref name="statement"/> again when PostgreSQL broke a deadlock by aborting it (a lease row deleted by
    /// a reclaim while its subject row is locked by a grant or a late ledger write): nothing of the aborted statement stays.</summary>
    private static async Task<T> RetryAsync<T>(Func<Task<T>> statement)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await statement().ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure && attempt < 5)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10 * attempt)).ConfigureAwait(false);
            }
        }
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
