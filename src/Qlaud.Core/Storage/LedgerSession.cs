using System.Data;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;
using Qlaud.Storage.Sqlite;

namespace Qlaud.Storage;

/// <summary>
/// The ledger writer's own open connection, with its three statements prepared once and reused for every batch: insert a
/// ledger entry, move a wallet's balance, add to a key's spend counters.
/// </summary>
/// <remarks>
/// <para>Per batch this costs one transaction and one execution per row and per touched wallet and key: no context, no
/// LINQ translation, no statement parsing. (EF's <c>SaveChanges</c> sends a batch as one command of many statements that
/// SQLite must parse one by one, and <c>ExecuteUpdate</c> translates its query every call; together they cost more than
/// the writes.) Multi-row <c>VALUES</c> lists are not used: measured when parameters were still bound by name (SQLite finds a
/// name by a linear search), a wide statement bound more slowly per row than a narrow one.</para>
/// <para>When asked (<c>yieldCore</c>), the session gives up its core (<see cref="Thread.Yield"/>, a <c>sched_yield</c>) after
/// every <see cref="RowsPerYield"/> rows and before the commit. On a busy machine a thread-pool worker spinning for work
/// yields its core to whatever else can run; when that is the writer, the worker (and the request it is about to pick up)
/// would otherwise wait out the writer's whole batch, which at one connection with an instant upstream put 0.4 ms on
/// metering's p99. With the yields it waits for a few rows at most (<c>benchmarks/results/load-c1-lat0-writer-experiments.md</c>).
/// A yield with nothing else to run costs one system call, but on a saturated machine each one waits out the other runnable
/// threads, so a writer that is falling behind does not yield (<see cref="Qlaud.Metering.LedgerWriter"/>).</para>
/// <para>The SQL is built from the EF model (tables, columns, value converters) with the provider's own identifier quoting
/// and parameter syntax, so it is standard SQL on any relational provider. On SQLite the same statements run on the
/// connection's native handle, bound by index (<see cref="SqliteRawStatement"/>). On PostgreSQL, where each statement would
/// be a network round trip, the batch is a few set-based statements over arrays sent together (<c>LedgerSession.Postgres.cs</c>),
/// built from the same model and sharing the balance and spend expressions; any other provider runs the statements as
/// <see cref="DbCommand"/>s. The balance and spend updates are relative, so they stay correct beside other writers of the
/// same rows (an API patch, another node). A session whose write failed is disposed by its owner and a new one opened for
/// the retry.</para>
/// </remarks>
internal sealed partial class LedgerSession : IAsyncDisposable
{
    /// <summary>Rows written between two yields of the writer's core (see remarks).</summary>
    internal const int RowsPerYield = 2;

    private readonly QlaudDbContext _db;
    private readonly DbConnection _connection;
    private readonly DbCommand _insert;
    private readonly (IClrPropertyGetter Getter, Func<object?, object?>? Convert, DbParameter Parameter)[] _insertColumns;
    private readonly DbCommand _wallet;
    private readonly DbParameter _walletDelta, _walletNow, _walletAccount;
    private readonly DbCommand _key;
    private readonly DbParameter _keySpend, _keyPeriodStart, _keyLastUsed, _keyId;

    /// <summary>EF Core's name of its SQLite provider (<c>DatabaseFacade.ProviderName</c>).</summary>
    private const string SqliteProviderName = "Microsoft.EntityFrameworkCore.Sqlite";

    /// <summary>Npgsql's name of its EF Core provider.</summary>
    private const string PostgresProviderName = "Npgsql.EntityFrameworkCore.PostgreSQL";

    /// <summary>The same three statements on SQLite's native handle, or null on another provider.</summary>
    private readonly NativeStatements? _native;

    /// <summary>Whether the statements run on SQLite's native handle.</summary>
    internal bool IsNative => _native is not null;

    /// <summary>The batch as one pipelined set of set-based statements on PostgreSQL, or null on another provider.</summary>
    private readonly PostgresStatements? _postgres;

    private LedgerSession(QlaudDbContext db, bool native)
    {
        _db = db;
        _connection = db.Database.GetDbConnection();
        var sql = db.GetService<ISqlGenerationHelper>();
        var model = db.Model;

        var ledger = Table<LedgerEntryEntity>(model, out var ledgerTable);
        _insert = _connection.CreateCommand();
        var columns = new List<(IClrPropertyGetter, Func<object?, object?>?, DbParameter)>();
        var names = new List<string>();
        foreach (var property in InsertedProperties(ledger))
        {
            var converter = property.GetValueConverter() ?? property.GetTypeMapping().Converter;
            columns.Add((property.GetGetter(), converter is null ? null : converter.ConvertToProvider,
                Parameter(_insert, sql, "p" + columns.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), property.GetRelationalTypeMapping().DbType ?? DbType.String)));
            names.Add(sql.DelimitIdentifier(property.GetColumnName(ledgerTable)!));
        }

        _insertColumns = [.. columns];
        _insert.CommandText = $"INSERT INTO {Name(sql, ledgerTable)} ({string.Join(", ", names)}) VALUES ({string.Join(", ", columns.Select((_, i) => sql.GenerateParameterNamePlaceholder("p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))))})";

        var wallet = Table<WalletEntity>(model, out var walletTable);
        _wallet = _connection.CreateCommand();
        _walletDelta = Parameter(_wallet, sql, "delta", DbType.Int64);
        _walletNow = Parameter(_wallet, sql, "now", DbType.Int64);
        _walletAccount = Parameter(_wallet, sql, "account", DbType.String);
        _wallet.CommandText =
            $"UPDATE {Name(sql, walletTable)} SET {WalletAssignments(sql, model, sql.GenerateParameterNamePlaceholder("delta"), sql.GenerateParameterNamePlaceholder("now"))} " +
            $"WHERE {Column(sql, wallet, walletTable, nameof(WalletEntity.AccountId))} = {sql.GenerateParameterNamePlaceholder("account")}";

        var key = Table<ApiKeyEntity>(model, out var keyTable);
        string pSpend = sql.GenerateParameterNamePlaceholder("spend"), pStart = sql.GenerateParameterNamePlaceholder("start"), pUsed = sql.GenerateParameterNamePlaceholder("used");
        _key = _connection.CreateCommand();
        _keySpend = Parameter(_key, sql, "spend", DbType.Int64);
        _keyPeriodStart = Parameter(_key, sql, "start", DbType.Int64);
        _keyLastUsed = Parameter(_key, sql, "used", DbType.Int64);
        _keyId = Parameter(_key, sql, "id", DbType.String);

        _key.CommandText =
            $"UPDATE {Name(sql, keyTable)} SET {KeySpendAssignments(sql, model, pSpend, pStart, pSpend, pUsed)} " +
            $"WHERE {Column(sql, key, keyTable, nameof(ApiKeyEntity.Id))} = {sql.GenerateParameterNamePlaceholder("id")}";

        // By the provider's name, so that no SQLite type is touched (and the SQLite assembly not loaded) on another provider.
        if (native && string.Equals(db.Database.ProviderName, SqliteProviderName, StringComparison.Ordinal))
        {
            _native = NativeStatements.Create(_connection, this);
        }
        else if (native && string.Equals(db.Database.ProviderName, PostgresProviderName, StringComparison.Ordinal))
        {
            _postgres = PostgresStatements.Create(_connection, sql, model);
        }
    }

    /// <summary>The SET list that moves a wallet's balance by <paramref name="delta"/> and stamps it with <paramref name="now"/>
    /// (placeholders or column references).</summary>
    private static string WalletAssignments(ISqlGenerationHelper sql, IModel model, string delta, string now)
    {
        var wallet = Table<WalletEntity>(model, out var table);
        string balance = Column(sql, wallet, table, nameof(WalletEntity.BalanceMicros));
        return $"{balance} = {balance} + {delta}, {Column(sql, wallet, table, nameof(WalletEntity.UpdatedAtMs))} = {now}";
    }

    /// <summary>The SET list that adds a key's charges: <paramref name="total"/> to its lifetime spend, <paramref name="periodCharge"/>
    /// (the charges made in cap period <paramref name="start"/>) to its period's spend, and <paramref name="used"/> as its latest
    /// use (placeholders or column references).</summary>
    /// <remarks>A charge counts in the period it was made in: a key whose period already rolled past it keeps its new period's
    /// spend; a charge that starts a newer period resets the period's spend to itself. (SET expressions read the old row.)
    /// Applying one key's periods oldest first ends in the same row as applying only the newest period's charges with the sum of
    /// all of them as <paramref name="total"/>: an older period can only be counted by a row that is still in it, and the newest
    /// one then resets it.</remarks>
    private static string KeySpendAssignments(ISqlGenerationHelper sql, IModel model, string total, string start, string periodCharge, string used)
    {
        var key = Table<ApiKeyEntity>(model, out var table);
        string spend = Column(sql, key, table, nameof(ApiKeyEntity.SpendMicros));
        string periodSpend = Column(sql, key, table, nameof(ApiKeyEntity.PeriodSpendMicros));
        string periodStart = Column(sql, key, table, nameof(ApiKeyEntity.PeriodStartMs));
        string lastUsed = Column(sql, key, table, nameof(ApiKeyEntity.LastUsedAtMs));
        return $"{spend} = {spend} + {total}, " +
            $"{periodSpend} = CASE WHEN {periodStart} > {start} THEN {periodSpend} WHEN {periodStart} = {start} THEN {periodSpend} + {periodCharge} ELSE {periodCharge} END, " +
            $"{periodStart} = CASE WHEN {periodStart} > {start} THEN {periodStart} ELSE {start} END, " +
            $"{lastUsed} = CASE WHEN {lastUsed} IS NULL OR {lastUsed} < {used} THEN {used} ELSE {lastUsed} END";
    }

    /// <summary>Opens the connection (through EF, so the provider's connection set-up runs) and prepares the statements.</summary>
    /// <param name="factory">Creates the context whose connection the session keeps open.</param>
    /// <param name="native">Whether the provider's own path runs the batch (the default): SQLite's native handle, or PostgreSQL's
    /// pipelined set-based statements; false runs the statements as <see cref="DbCommand"/>s, the path of every other provider
    /// (tests compare the two).</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    public static async Task<LedgerSession> OpenAsync(IDbContextFactory<QlaudDbContext> factory, CancellationToken cancellationToken, bool native = true)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await db.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            var session = new LedgerSession(db, native);
            if (session._postgres is { } postgres)
            {
                await postgres.PrepareAsync(cancellationToken).ConfigureAwait(false);
            }
            else if (session._native is null)
            {
                await session._insert.PrepareAsync(cancellationToken).ConfigureAwait(false);
                await session._wallet.PrepareAsync(cancellationToken).ConfigureAwait(false);
                await session._key.PrepareAsync(cancellationToken).ConfigureAwait(false);
            }

            return session;
        }
        catch
        {
            await db.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Writes one batch in one transaction: its entries, then each wallet's and key's summed change.</summary>
    /// <param name="entries">The ledger entries.</param>
    /// <param name="wallets">Balance change per account id.</param>
    /// <param name="keys">Spend per key and cap period, with the latest use; applied in period order.</param>
    /// <param name="nowMs">The wallets' update time.</param>
    /// <param name="yieldCore">Whether to give up the core every <see cref="RowsPerYield"/> rows and before the commit (see remarks).</param>
    /// <param name="cancellationToken">Cancels the write (the transaction rolls back).</param>
    /// <param name="leased">What the batch billed against each of this instance's budget leases (a shared database only): each
    /// lease and its subject's leased total shrink by it in the same transaction that adds it to the spend, as far as the
    /// lease row still holds it.</param>
    /// <param name="leaseNode">This instance's id in the lease table, with <paramref name="leased"/>.</param>
    /// <param name="writeOff">Called inside the transaction, before anything is written, when a lease covered less than was
    /// billed against it (its row was reclaimed after this instance could not renew it, and its budget may have been spent by
    /// another): given what each lease covered, it writes the rest off in the entries and returns the wallets' and keys'
    /// totals of the entries as they are now.</param>
    public async Task WriteAsync(IReadOnlyList<LedgerEntryEntity> entries, IReadOnlyDictionary<string, long> wallets,
        IReadOnlyList<KeySpend> keys, long nowMs, bool yieldCore, CancellationToken cancellationToken,
        IReadOnlyDictionary<(Metering.Leasing.LeaseSubjectKind Kind, string SubjectId), long>? leased = null, string? leaseNode = null,
        Func<IReadOnlyDictionary<(Metering.Leasing.LeaseSubjectKind Kind, string SubjectId), long>, (IReadOnlyDictionary<string, long> Wallets, IReadOnlyList<KeySpend> Keys)>? writeOff = null)
    {
        if (_postgres is { } postgres)
        {
            await postgres.WriteAsync(_connection, entries, wallets, keys, nowMs, leaseNode is null ? null : leased, leaseNode,
                writeOff, cancellationToken).ConfigureAwait(false);
            return;
        }

        var transaction = await _connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            // The leases first: each statement locks the key (or wallet) row and then the lease row, the order of grants.
            if (leased is { Count: > 0 } && leaseNode is not null)
            {
                var covered = await ConsumeLeasesAsync(transaction, leased, leaseNode, cancellationToken).ConfigureAwait(false);
                if (writeOff is not null && leased.Any(l => covered[l.Key] < l.Value))
                {
                    (wallets, keys) = writeOff(covered);
                }
            }

            if (_native is { } native)
            {
                native.Write(entries, wallets, keys, nowMs, yieldCore);
            }
            else
            {
                await WriteCommandsAsync(transaction, entries, wallets, keys, nowMs, yieldCore, cancellationToken).ConfigureAwait(false);
            }

            if (yieldCore)
            {
                Thread.Yield();
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The batch's statements as <see cref="DbCommand"/>s (any provider but SQLite), inside <paramref name="transaction"/>.</summary>
    private async Task WriteCommandsAsync(DbTransaction transaction, IReadOnlyList<LedgerEntryEntity> entries, IReadOnlyDictionary<string, long> wallets,
        IReadOnlyList<KeySpend> keys, long nowMs, bool yieldCore, CancellationToken cancellationToken)
    {
        _insert.Transaction = transaction;
        _wallet.Transaction = transaction;
        _key.Transaction = transaction;
        for (int i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            foreach (var (getter, convert, parameter) in _insertColumns)
            {
                parameter.Value = ColumnValue(entry, getter, convert) ?? DBNull.Value;
            }

            await _insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            YieldAfter(i, yieldCore);
        }

        _walletNow.Value = nowMs;
        foreach (var (accountId, delta) in wallets)
        {
            _walletDelta.Value = delta;
            _walletAccount.Value = accountId;
            await _wallet.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        for (int i = 0; i < keys.Count; i++)
        {
            var key = keys[i];
            _keySpend.Value = key.SpendMicros;
            _keyPeriodStart.Value = key.PeriodStartMs;
            _keyLastUsed.Value = key.LastUsedAtMs;
            _keyId.Value = key.KeyId;
            await _key.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The lease statement (PostgreSQL only), prepared on first use.</summary>
    private DbCommand? _consume;
    private DbParameter? _consumeAmount, _consumeKind, _consumeSubject, _consumeNode;

    /// <summary>Moves what the batch billed out of this instance's leases, each as far as its row still holds it; returns what
    /// each lease covered (0 for a lease whose row is gone). See <see cref="Postgres.PostgresBudgetLeaseStore"/> for the lock order.</summary>
    private async Task<Dictionary<(Metering.Leasing.LeaseSubjectKind Kind, string SubjectId), long>> ConsumeLeasesAsync(DbTransaction transaction,
        IReadOnlyDictionary<(Metering.Leasing.LeaseSubjectKind Kind, string SubjectId), long> leased, string leaseNode, CancellationToken cancellationToken)
    {
        if (_consume is null)
        {
            var command = _connection.CreateCommand();
            command.CommandText = Postgres.PostgresBudgetLeaseStore.ConsumeSql;
            _consumeAmount = RawParameter(command, "amount", DbType.Int64);
            _consumeKind = RawParameter(command, "kind", DbType.Int16);
            _consumeSubject = RawParameter(command, "subject", DbType.String);
            _consumeNode = RawParameter(command, "node", DbType.String);
            _consume = command;
        }

        _consume.Transaction = transaction;
        _consumeNode!.Value = leaseNode;
        var covered = new Dictionary<(Metering.Leasing.LeaseSubjectKind, string), long>(leased.Count);

        // Wallets before keys (the order of the balance and spend updates that follow), each in id order, so writers lock the
        // rows in one order.
        foreach (var ((kind, subject), amount) in leased.OrderByDescending(static l => l.Key.Kind).ThenBy(static l => l.Key.SubjectId, StringComparer.Ordinal))
        {
            _consumeAmount!.Value = amount;
            _consumeKind!.Value = (short)kind;
            _consumeSubject!.Value = subject;
            covered[(kind, subject)] = Convert.ToInt64(await _consume.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }

        return covered;
    }

    private static DbParameter RawParameter(DbCommand command, string name, DbType type)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = type;
        command.Parameters.Add(parameter);
        return parameter;
    }

    public async ValueTask DisposeAsync()
    {
        if (_consume is not null)
        {
            await _consume.DisposeAsync().ConfigureAwait(false);
        }

        _native?.Dispose();
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync().ConfigureAwait(false);
        }

        await _insert.DisposeAsync().ConfigureAwait(false);
        await _wallet.DisposeAsync().ConfigureAwait(false);
        await _key.DisposeAsync().ConfigureAwait(false);
        await _db.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Gives up the core after every <see cref="RowsPerYield"/>th row (row index <paramref name="row"/>), if asked to.</summary>
    private static void YieldAfter(int row, bool yieldCore)
    {
        if (yieldCore && (row + 1) % RowsPerYield == 0)
        {
            Thread.Yield();
        }
    }

    /// <summary>Reads an entry's column value as the provider stores it (after the property's value converter).</summary>
    private static object? ColumnValue(LedgerEntryEntity entry, IClrPropertyGetter getter, Func<object?, object?>? convert)
    {
        object? value = getter.GetClrValue(entry);
        return convert is not null && value is not null ? convert(value) : value;
    }

    /// <summary>The session's statements prepared on SQLite's native handle, with their parameters' indexes.</summary>
    private sealed class NativeStatements : IDisposable
    {
        private readonly SqliteRawStatement _insert, _wallet, _key;
        private readonly (IClrPropertyGetter Getter, Func<object?, object?>? Convert, int Index)[] _insertColumns;
        private readonly int _walletDelta, _walletNow, _walletAccount, _keySpend, _keyPeriodStart, _keyLastUsed, _keyId;

        /// <summary>The statements on <paramref name="connection"/>, a SQLite connection.</summary>
        public static NativeStatements Create(DbConnection connection, LedgerSession session) => new((Microsoft.Data.Sqlite.SqliteConnection)connection, session);

        private NativeStatements(Microsoft.Data.Sqlite.SqliteConnection connection, LedgerSession session)
        {
            _insert = new SqliteRawStatement(connection, session._insert.CommandText);
            _wallet = new SqliteRawStatement(connection, session._wallet.CommandText);
            _key = new SqliteRawStatement(connection, session._key.CommandText);
            _insertColumns = Array.ConvertAll(session._insertColumns, c => (c.Getter, c.Convert, _insert.IndexOf(c.Parameter.ParameterName)));
            _walletDelta = _wallet.IndexOf(session._walletDelta.ParameterName);
            _walletNow = _wallet.IndexOf(session._walletNow.ParameterName);
            _walletAccount = _wallet.IndexOf(session._walletAccount.ParameterName);
            _keySpend = _key.IndexOf(session._keySpend.ParameterName);
            _keyPeriodStart = _key.IndexOf(session._keyPeriodStart.ParameterName);
            _keyLastUsed = _key.IndexOf(session._keyLastUsed.ParameterName);
            _keyId = _key.IndexOf(session._keyId.ParameterName);
        }

        /// <summary>The batch's statements, inside the transaction the caller opened and commits.</summary>
        public void Write(IReadOnlyList<LedgerEntryEntity> entries, IReadOnlyDictionary<string, long> wallets, IReadOnlyList<KeySpend> keys, long nowMs, bool yieldCore)
        {
            for (int i = 0; i < entries.Count; i++)
            {
                var entry = entries[i];
                foreach (var (getter, convert, index) in _insertColumns)
                {
                    _insert.Bind(index, ColumnValue(entry, getter, convert));
                }

                _insert.Execute();
                YieldAfter(i, yieldCore);
            }

            _wallet.Bind(_walletNow, nowMs);
            foreach (var (accountId, delta) in wallets)
            {
                _wallet.Bind(_walletDelta, delta);
                _wallet.Bind(_walletAccount, accountId);
                _wallet.Execute();
            }

            for (int i = 0; i < keys.Count; i++)
            {
                var key = keys[i];
                _key.Bind(_keySpend, key.SpendMicros);
                _key.Bind(_keyPeriodStart, key.PeriodStartMs);
                _key.Bind(_keyLastUsed, key.LastUsedAtMs);
                _key.Bind(_keyId, key.KeyId);
                _key.Execute();
            }
        }

        public void Dispose()
        {
            _insert.Dispose();
            _wallet.Dispose();
            _key.Dispose();
        }
    }

    private static IEntityType Table<TEntity>(IModel model, out StoreObjectIdentifier table)
    {
        var entity = model.FindEntityType(typeof(TEntity))!;
        table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
        return entity;
    }

    /// <summary>The ledger columns the writer fills: all but the identity column.</summary>
    private static IEnumerable<IProperty> InsertedProperties(IEntityType ledger) => ledger.GetProperties().Where(static p => p.ValueGenerated == ValueGenerated.Never);

    private static string Name(ISqlGenerationHelper sql, StoreObjectIdentifier table) => sql.DelimitIdentifier(table.Name, table.Schema);

    private static string Column(ISqlGenerationHelper sql, IEntityType entity, StoreObjectIdentifier table, string property)
        => sql.DelimitIdentifier(entity.FindProperty(property)!.GetColumnName(table)!);

    /// <summary>A parameter of a fixed type, so a provider that prepares statements (PostgreSQL) knows it before the first value.</summary>
    private static DbParameter Parameter(DbCommand command, ISqlGenerationHelper sql, string name, DbType type)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = sql.GenerateParameterName(name);
        parameter.DbType = type;
        command.Parameters.Add(parameter);
        return parameter;
    }
}
