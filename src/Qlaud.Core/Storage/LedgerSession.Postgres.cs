using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Qlaud.Metering.Leasing;

namespace Qlaud.Storage;

internal sealed partial class LedgerSession
{
    /// <summary>The batch on PostgreSQL: one set-based statement per table, each over arrays of the batch's rows, sent together
    /// as one <see cref="NpgsqlBatch"/> (one network write, one round trip; the commit is the second).</summary>
    /// <remarks>
    /// <para>Per row and per touched wallet, key and lease the generic path costs one round trip, during which the transaction
    /// holds its row locks idle; here the batch costs the same two round trips at any size. The statements are fixed (their
    /// arrays may be empty), so the batch is prepared once per session.</para>
    /// <para>Rows are written as the generic path writes them: the leases consumed as far as their rows still hold what was
    /// billed (<see cref="Postgres.PostgresBudgetLeaseStore.ConsumeManySql"/>), the entries in order (<c>unnest</c> keeps the
    /// arrays' order), each wallet's balance moved by its summed change, each key's counters by <see cref="KeySpendAssignments"/>
    /// with its periods folded into one row (see there). When a lease covered less than was billed (its row was reclaimed), the
    /// entries must be written off before they are written: that transaction is rolled back and the batch runs again in two
    /// steps, the leases first, then, after the write-off, the rows.</para>
    /// <para>Lock order, the order of grants: the wallet rows, then the key rows, each in id order (<c>ORDER BY … FOR UPDATE</c>,
    /// every row the batch will touch), then the lease rows; so two instances' writers over the same keys queue rather than
    /// deadlock (see <see cref="Postgres.PostgresBudgetLeaseStore"/>).</para>
    /// </remarks>
    private sealed class PostgresStatements : IAsyncDisposable
    {
        private readonly NpgsqlBatch _batch;
        private readonly (IClrPropertyGetter Getter, Func<object?, object?>? Convert, Type Element, NpgsqlParameter Parameter)[] _entryColumns;
        private readonly NpgsqlParameter _walletLockIds, _walletIds, _walletDeltas, _walletNow;

        /// <summary>Entry column arrays of no rows, bound when a run writes nothing.</summary>
        private readonly Array[] _noEntries;
        private readonly NpgsqlParameter _keyLockIds, _keyIds, _keyTotals, _keyStarts, _keyPeriodCharges, _keyUsed;
        private readonly NpgsqlParameter _leaseKinds, _leaseSubjects, _leaseAmounts, _leaseNode;

        /// <summary>Casts in here, so that no Npgsql type is touched (and its assembly not loaded) on another provider.</summary>
        public static PostgresStatements Create(DbConnection connection, ISqlGenerationHelper sql, IModel model) =>
            new((NpgsqlConnection)connection, sql, model);

        private PostgresStatements(NpgsqlConnection connection, ISqlGenerationHelper sql, IModel model)
        {
            _batch = new NpgsqlBatch(connection);

            var ledger = Table<LedgerEntryEntity>(model, out var ledgerTable);
            var insert = new NpgsqlBatchCommand();
            var columns = new List<(IClrPropertyGetter, Func<object?, object?>?, Type, NpgsqlParameter)>();
            var names = new List<string>();
            var arrays = new List<string>();
            foreach (var property in InsertedProperties(ledger))
            {
                var converter = property.GetValueConverter() ?? property.GetTypeMapping().Converter;
                var element = converter?.ProviderClrType ?? property.ClrType;
                if (element.IsValueType && property.IsNullable && Nullable.GetUnderlyingType(element) is null)
                {
                    element = typeof(Nullable<>).MakeGenericType(element);
                }

                string name = "p" + columns.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
                columns.Add((property.GetGetter(), converter is null ? null : converter.ConvertToProvider, element, Add(insert, name)));
                names.Add(sql.DelimitIdentifier(property.GetColumnName(ledgerTable)!));
                arrays.Add($"@{name}::{property.GetRelationalTypeMapping().StoreTypeNameBase}[]");
            }

            _entryColumns = [.. columns];
            insert.CommandText = $"INSERT INTO {Name(sql, ledgerTable)} ({string.Join(", ", names)}) SELECT * FROM unnest({string.Join(", ", arrays)})";

            var wallet = Table<WalletEntity>(model, out var walletTable);
            var walletId = wallet.FindProperty(nameof(WalletEntity.AccountId))!;
            string walletIdColumn = sql.DelimitIdentifier(walletId.GetColumnName(walletTable)!);
            string walletIdType = walletId.GetRelationalTypeMapping().StoreTypeNameBase;
            var lockWallets = new NpgsqlBatchCommand(
                $"SELECT 1 FROM {Name(sql, walletTable)} WHERE {walletIdColumn} = ANY(@ids::{walletIdType}[]) ORDER BY {walletIdColumn} FOR UPDATE");
            _walletLockIds = Add(lockWallets, "ids");
            var updateWallets = new NpgsqlBatchCommand(
                $"UPDATE {Name(sql, walletTable)} SET {WalletAssignments(sql, model, "v.delta", "@now")} " +
                $"FROM unnest(@ids::{walletIdType}[], @deltas::bigint[]) AS v(id, delta) WHERE {walletIdColumn} = v.id");
            _walletIds = Add(updateWallets, "ids");
            _walletDeltas = Add(updateWallets, "deltas");
            _walletNow = Add(updateWallets, "now");

            var key = Table<ApiKeyEntity>(model, out var keyTable);
            var keyId = key.FindProperty(nameof(ApiKeyEntity.Id))!;
            string keyIdColumn = sql.DelimitIdentifier(keyId.GetColumnName(keyTable)!);
            string keyIdType = keyId.GetRelationalTypeMapping().StoreTypeNameBase;
            var lockKeys = new NpgsqlBatchCommand(
                $"SELECT 1 FROM {Name(sql, keyTable)} WHERE {keyIdColumn} = ANY(@ids::{keyIdType}[]) ORDER BY {keyIdColumn} FOR UPDATE");
            _keyLockIds = Add(lockKeys, "ids");
            var updateKeys = new NpgsqlBatchCommand(
                $"UPDATE {Name(sql, keyTable)} SET {KeySpendAssignments(sql, model, "v.total", "v.start", "v.charge", "v.used")} " +
                $"FROM unnest(@ids::{keyIdType}[], @totals::bigint[], @starts::bigint[], @charges::bigint[], @used::bigint[]) AS v(id, total, start, charge, used) " +
                $"WHERE {keyIdColumn} = v.id");
            _keyIds = Add(updateKeys, "ids");
            _keyTotals = Add(updateKeys, "totals");
            _keyStarts = Add(updateKeys, "starts");
            _keyPeriodCharges = Add(updateKeys, "charges");
            _keyUsed = Add(updateKeys, "used");

            var consume = new NpgsqlBatchCommand(Postgres.PostgresBudgetLeaseStore.ConsumeManySql);
            _leaseKinds = Add(consume, "kinds");
            _leaseSubjects = Add(consume, "subjects");
            _leaseAmounts = Add(consume, "amounts");
            _leaseNode = Add(consume, "node");

            // Parameter types are fixed before the first values, so the batch can be prepared at once.
            _noEntries = Array.ConvertAll(_entryColumns, static c => Array.CreateInstance(c.Element, 0));
            _walletLockIds.Value = _keyLockIds.Value = Array.Empty<string>();
            BindWrites([], EmptyWallets, [], 0);
            BindLeases(null, null);

            _batch.BatchCommands.Add(lockWallets);
            _batch.BatchCommands.Add(lockKeys);
            _batch.BatchCommands.Add(consume);
            _batch.BatchCommands.Add(insert);
            _batch.BatchCommands.Add(updateWallets);
            _batch.BatchCommands.Add(updateKeys);
        }

        private static readonly Dictionary<string, long> EmptyWallets = [];

        public Task PrepareAsync(CancellationToken cancellationToken) => _batch.PrepareAsync(cancellationToken);

        /// <summary>Writes the batch in one transaction: in one round trip as a rule; when a lease covered less than was billed and
        /// <paramref name="writeOff"/> is given, the transaction is rolled back and run again as consume, write off, write.</summary>
        /// <remarks>Takes the connection (an <see cref="NpgsqlConnection"/>) as a <see cref="DbConnection"/> and is never inlined,
        /// so that the caller's code names no Npgsql type: compiling it must not load Npgsql on another provider.</remarks>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        public Task WriteAsync(DbConnection connection, IReadOnlyList<LedgerEntryEntity> entries, IReadOnlyDictionary<string, long> wallets,
            IReadOnlyList<KeySpend> keys, long nowMs, IReadOnlyDictionary<(LeaseSubjectKind Kind, string SubjectId), long>? leased, string? leaseNode,
            Func<IReadOnlyDictionary<(LeaseSubjectKind Kind, string SubjectId), long>, (IReadOnlyDictionary<string, long> Wallets, IReadOnlyList<KeySpend> Keys)>? writeOff,
            CancellationToken cancellationToken)
            => WriteAsync((NpgsqlConnection)connection, entries, wallets, keys, nowMs, leased, leaseNode, writeOff, cancellationToken);

        private async Task WriteAsync(NpgsqlConnection connection, IReadOnlyList<LedgerEntryEntity> entries, IReadOnlyDictionary<string, long> wallets,
            IReadOnlyList<KeySpend> keys, long nowMs, IReadOnlyDictionary<(LeaseSubjectKind Kind, string SubjectId), long>? leased, string? leaseNode,
            Func<IReadOnlyDictionary<(LeaseSubjectKind Kind, string SubjectId), long>, (IReadOnlyDictionary<string, long> Wallets, IReadOnlyList<KeySpend> Keys)>? writeOff,
            CancellationToken cancellationToken)
        {
            if (leaseNode is null || leased is { Count: 0 })
            {
                leased = null;
            }

            BindLocks(wallets, keys, leased);
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                BindLeases(leased, leaseNode);
                BindWrites(entries, wallets, keys, nowMs);
                var covered = await ExecuteAsync(transaction, leased, cancellationToken).ConfigureAwait(false);
                if (writeOff is null || !Short(leased, covered))
                {
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    return;
                }

                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            }

            // A lease no longer holds what was billed against it: consume first (the same locks), write off, then write.
            transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                BindLeases(leased, leaseNode);
                BindWrites([], EmptyWallets, [], nowMs);
                var covered = await ExecuteAsync(transaction, leased, cancellationToken).ConfigureAwait(false);
                if (Short(leased, covered))
                {
                    (wallets, keys) = writeOff(covered);
                }

                BindLeases(null, null);
                BindWrites(entries, wallets, keys, nowMs);
                await ExecuteAsync(transaction, null, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>Runs the batch; returns what each lease of <paramref name="leased"/> covered (0 for a lease not returned).</summary>
        private async Task<Dictionary<(LeaseSubjectKind Kind, string SubjectId), long>> ExecuteAsync(NpgsqlTransaction transaction,
            IReadOnlyDictionary<(LeaseSubjectKind Kind, string SubjectId), long>? leased, CancellationToken cancellationToken)
        {
            var covered = new Dictionary<(LeaseSubjectKind, string), long>(leased?.Count ?? 0);
            if (leased is not null)
            {
                foreach (var lease in leased.Keys)
                {
                    covered[lease] = 0;
                }
            }

            _batch.Transaction = transaction;
            var reader = await _batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                // The two lock statements' rows, then the consumed leases, then the writes (no rows; reading on surfaces their errors).
                await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
                await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    covered[((LeaseSubjectKind)reader.GetInt16(0), reader.GetString(1))] = reader.GetInt64(2);
                }

                while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false))
                {
                }
            }

            return covered;
        }

        private static bool Short(IReadOnlyDictionary<(LeaseSubjectKind Kind, string SubjectId), long>? leased, Dictionary<(LeaseSubjectKind Kind, string SubjectId), long> covered)
        {
            if (leased is not null)
            {
                foreach (var (lease, billed) in leased)
                {
                    if (covered[lease] < billed)
                    {
                        return true;
                    }
                }
            }

            return false;
        }

        /// <summary>Every wallet and key row the batch touches: its wallets and keys, and the subjects of its leases.</summary>
        private void BindLocks(IReadOnlyDictionary<string, long> wallets, IReadOnlyList<KeySpend> keys, IReadOnlyDictionary<(LeaseSubjectKind Kind, string SubjectId), long>? leased)
        {
            var walletIds = new HashSet<string>(wallets.Keys, StringComparer.Ordinal);
            var keyIds = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < keys.Count; i++)
            {
                keyIds.Add(keys[i].KeyId);
            }

            if (leased is not null)
            {
                foreach (var (kind, subject) in leased.Keys)
                {
                    (kind == LeaseSubjectKind.Key ? keyIds : walletIds).Add(subject);
                }
            }

            _walletLockIds.Value = walletIds.ToArray();
            _keyLockIds.Value = keyIds.ToArray();
        }

        private void BindLeases(IReadOnlyDictionary<(LeaseSubjectKind Kind, string SubjectId), long>? leased, string? leaseNode)
        {
            int count = leased?.Count ?? 0;
            var kinds = new short[count];
            var subjects = new string[count];
            var amounts = new long[count];
            if (leased is not null)
            {
                int l = 0;
                foreach (var ((kind, subject), amount) in leased)
                {
                    kinds[l] = (short)kind;
                    subjects[l] = subject;
                    amounts[l++] = amount;
                }
            }

            _leaseKinds.Value = kinds;
            _leaseSubjects.Value = subjects;
            _leaseAmounts.Value = amounts;
            _leaseNode.Value = leaseNode ?? "";
        }

        private void BindWrites(IReadOnlyList<LedgerEntryEntity> entries, IReadOnlyDictionary<string, long> wallets, IReadOnlyList<KeySpend> keys, long nowMs)
        {
            BindEntries(entries);
            var walletIds = new string[wallets.Count];
            var deltas = new long[wallets.Count];
            int w = 0;
            foreach (var (accountId, delta) in wallets)
            {
                walletIds[w] = accountId;
                deltas[w++] = delta;
            }

            _walletIds.Value = walletIds;
            _walletDeltas.Value = deltas;
            _walletNow.Value = nowMs;
            BindKeys(keys);
        }

        private void BindEntries(IReadOnlyList<LedgerEntryEntity> entries)
        {
            for (int c = 0; c < _entryColumns.Length; c++)
            {
                var (getter, convert, element, parameter) = _entryColumns[c];
                if (entries.Count == 0)
                {
                    parameter.Value = _noEntries[c];
                    continue;
                }

                var values = Array.CreateInstance(element, entries.Count);
                for (int i = 0; i < entries.Count; i++)
                {
                    values.SetValue(ColumnValue(entries[i], getter, convert), i);
                }

                parameter.Value = values;
            }
        }

        /// <summary>One row per key: its charges of every period summed as the total, and its newest period's charges (the
        /// periods arrive oldest first; see <see cref="KeySpendAssignments"/> for why that ends in the same row).</summary>
        private void BindKeys(IReadOnlyList<KeySpend> keys)
        {
            var folded = new Dictionary<string, (long Total, long Start, long Charge, long Used)>(keys.Count, StringComparer.Ordinal);
            for (int i = 0; i < keys.Count; i++)
            {
                var key = keys[i];
                if (!folded.TryGetValue(key.KeyId, out var row))
                {
                    folded[key.KeyId] = (key.SpendMicros, key.PeriodStartMs, key.SpendMicros, key.LastUsedAtMs);
                    continue;
                }

                long charge = key.PeriodStartMs > row.Start ? key.SpendMicros : key.PeriodStartMs == row.Start ? row.Charge + key.SpendMicros : row.Charge;
                folded[key.KeyId] = (row.Total + key.SpendMicros, Math.Max(row.Start, key.PeriodStartMs), charge, Math.Max(row.Used, key.LastUsedAtMs));
            }

            var ids = new string[folded.Count];
            var totals = new long[folded.Count];
            var starts = new long[folded.Count];
            var charges = new long[folded.Count];
            var used = new long[folded.Count];
            int k = 0;
            foreach (var (id, row) in folded)
            {
                ids[k] = id;
                (totals[k], starts[k], charges[k], used[k]) = row;
                k++;
            }

            _keyIds.Value = ids;
            _keyTotals.Value = totals;
            _keyStarts.Value = starts;
            _keyPeriodCharges.Value = charges;
            _keyUsed.Value = used;
        }

        public ValueTask DisposeAsync() => _batch.DisposeAsync();

        private static NpgsqlParameter Add(NpgsqlBatchCommand command, string name)
        {
            var parameter = new NpgsqlParameter { ParameterName = name };
            command.Parameters.Add(parameter);
            return parameter;
        }
    }
}
