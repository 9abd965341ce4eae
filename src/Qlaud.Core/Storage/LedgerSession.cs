using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace Qlaud.Storage;

/// <summary>
/// The ledger writer's own open connection, with its three statements prepared once and reused for every batch: insert a
/// ledger entry, move a wallet's balance, add to a key's spend counters.
/// </summary>
/// <remarks>
/// <para>Per batch this costs one transaction and one execution per row and per touched wallet and key: no context, no
/// LINQ translation, no statement parsing. (EF's <c>SaveChanges</c> sends a batch as one command of many statements that
/// SQLite must parse one by one, and <c>ExecuteUpdate</c> translates its query every call; together they cost more than
/// the writes.) Multi-row <c>VALUES</c> lists are not used: Microsoft.Data.Sqlite binds parameters by name, and SQLite finds
/// a name by a linear search, so a wide statement binds more slowly per row than a narrow one.</para>
/// <para>The SQL is built from the EF model (tables, columns, value converters) with the provider's own identifier quoting
/// and parameter syntax, so it is standard SQL on any relational provider. The balance and spend updates are relative, so
/// they stay correct beside other writers of the same rows (an API patch, another node). A session whose write failed is
/// disposed by its owner and a new one opened for the retry.</para>
/// </remarks>
internal sealed class LedgerSession : IAsyncDisposable
{
    private readonly QlaudDbContext _db;
    private readonly DbConnection _connection;
    private readonly DbCommand _insert;
    private readonly (IClrPropertyGetter Getter, Func<object?, object?>? Convert, DbParameter Parameter)[] _insertColumns;
    private readonly DbCommand _wallet;
    private readonly DbParameter _walletDelta, _walletNow, _walletAccount;
    private readonly DbCommand _key;
    private readonly DbParameter _keySpend, _keyPeriodStart, _keyLastUsed, _keyId;

    private LedgerSession(QlaudDbContext db)
    {
        _db = db;
        _connection = db.Database.GetDbConnection();
        var sql = db.GetService<ISqlGenerationHelper>();
        var model = db.Model;

        var ledger = Table<LedgerEntryEntity>(model, out var ledgerTable);
        _insert = _connection.CreateCommand();
        var columns = new List<(IClrPropertyGetter, Func<object?, object?>?, DbParameter)>();
        var names = new List<string>();
        foreach (var property in ledger.GetProperties())
        {
            if (property.ValueGenerated != ValueGenerated.Never)
            {
                continue; // the identity column
            }

            var converter = property.GetValueConverter() ?? property.GetTypeMapping().Converter;
            columns.Add((property.GetGetter(), converter is null ? null : converter.ConvertToProvider, Parameter(_insert, sql, "p" + columns.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))));
            names.Add(sql.DelimitIdentifier(property.GetColumnName(ledgerTable)!));
        }

        _insertColumns = [.. columns];
        _insert.CommandText = $"INSERT INTO {Name(sql, ledgerTable)} ({string.Join(", ", names)}) VALUES ({string.Join(", ", columns.Select((_, i) => sql.GenerateParameterNamePlaceholder("p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))))})";

        var wallet = Table<WalletEntity>(model, out var walletTable);
        string balance = Column(sql, wallet, walletTable, nameof(WalletEntity.BalanceMicros));
        _wallet = _connection.CreateCommand();
        _walletDelta = Parameter(_wallet, sql, "delta");
        _walletNow = Parameter(_wallet, sql, "now");
        _walletAccount = Parameter(_wallet, sql, "account");
        _wallet.CommandText =
            $"UPDATE {Name(sql, walletTable)} SET {balance} = {balance} + {sql.GenerateParameterNamePlaceholder("delta")}, " +
            $"{Column(sql, wallet, walletTable, nameof(WalletEntity.UpdatedAtMs))} = {sql.GenerateParameterNamePlaceholder("now")} " +
            $"WHERE {Column(sql, wallet, walletTable, nameof(WalletEntity.AccountId))} = {sql.GenerateParameterNamePlaceholder("account")}";

        var key = Table<ApiKeyEntity>(model, out var keyTable);
        string spend = Column(sql, key, keyTable, nameof(ApiKeyEntity.SpendMicros));
        string periodSpend = Column(sql, key, keyTable, nameof(ApiKeyEntity.PeriodSpendMicros));
        string periodStart = Column(sql, key, keyTable, nameof(ApiKeyEntity.PeriodStartMs));
        string lastUsed = Column(sql, key, keyTable, nameof(ApiKeyEntity.LastUsedAtMs));
        string pSpend = sql.GenerateParameterNamePlaceholder("spend"), pStart = sql.GenerateParameterNamePlaceholder("start"), pUsed = sql.GenerateParameterNamePlaceholder("used");
        _key = _connection.CreateCommand();
        _keySpend = Parameter(_key, sql, "spend");
        _keyPeriodStart = Parameter(_key, sql, "start");
        _keyLastUsed = Parameter(_key, sql, "used");
        _keyId = Parameter(_key, sql, "id");

        // A charge counts in the period it was made in: a key whose period already rolled past it keeps its new period's
        // spend; a charge that starts a newer period resets the period's spend to itself. (SET expressions read the old row.)
        _key.CommandText =
            $"UPDATE {Name(sql, keyTable)} SET {spend} = {spend} + {pSpend}, " +
            $"{periodSpend} = CASE WHEN {periodStart} > {pStart} THEN {periodSpend} WHEN {periodStart} = {pStart} THEN {periodSpend} + {pSpend} ELSE {pSpend} END, " +
            $"{periodStart} = CASE WHEN {periodStart} > {pStart} THEN {periodStart} ELSE {pStart} END, " +
            $"{lastUsed} = CASE WHEN {lastUsed} IS NULL OR {lastUsed} < {pUsed} THEN {pUsed} ELSE {lastUsed} END " +
            $"WHERE {Column(sql, key, keyTable, nameof(ApiKeyEntity.Id))} = {sql.GenerateParameterNamePlaceholder("id")}";
    }

    /// <summary>Opens the connection (through EF, so the provider's connection set-up runs) and prepares the statements.</summary>
    public static async Task<LedgerSession> OpenAsync(IDbContextFactory<QlaudDbContext> factory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await db.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            var session = new LedgerSession(db);
            await session._insert.PrepareAsync(cancellationToken).ConfigureAwait(false);
            await session._wallet.PrepareAsync(cancellationToken).ConfigureAwait(false);
            await session._key.PrepareAsync(cancellationToken).ConfigureAwait(false);
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
    /// <param name="cancellationToken">Cancels the write (the transaction rolls back).</param>
    public async Task WriteAsync(IReadOnlyList<LedgerEntryEntity> entries, IReadOnlyDictionary<string, long> wallets,
        IReadOnlyList<KeySpend> keys, long nowMs, CancellationToken cancellationToken)
    {
        var transaction = await _connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            _insert.Transaction = transaction;
            _wallet.Transaction = transaction;
            _key.Transaction = transaction;
            for (int i = 0; i < entries.Count; i++)
            {
                var entry = entries[i];
                foreach (var (getter, convert, parameter) in _insertColumns)
                {
                    object? value = getter.GetClrValue(entry);
                    if (convert is not null && value is not null)
                    {
                        value = convert(value);
                    }

                    parameter.Value = value ?? DBNull.Value;
                }

                await _insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
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

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _insert.DisposeAsync().ConfigureAwait(false);
        await _wallet.DisposeAsync().ConfigureAwait(false);
        await _key.DisposeAsync().ConfigureAwait(false);
        await _db.DisposeAsync().ConfigureAwait(false);
    }

    private static IEntityType Table<TEntity>(IModel model, out StoreObjectIdentifier table)
    {
        var entity = model.FindEntityType(typeof(TEntity))!;
        table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
        return entity;
    }

    private static string Name(ISqlGenerationHelper sql, StoreObjectIdentifier table) => sql.DelimitIdentifier(table.Name, table.Schema);

    private static string Column(ISqlGenerationHelper sql, IEntityType entity, StoreObjectIdentifier table, string property)
        => sql.DelimitIdentifier(entity.FindProperty(property)!.GetColumnName(table)!);

    private static DbParameter Parameter(DbCommand command, ISqlGenerationHelper sql, string name)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = sql.GenerateParameterName(name);
        command.Parameters.Add(parameter);
        return parameter;
    }
}
