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
    /// <para>Rows are written as the generic path writes them: the entries in order (<c>unnest</c> keeps the arrays' order), each
    /// wallet's balance moved by its summed change, each key's counters by <see cref="KeySpendAssignments"/> with its periods
    /// folded into one row (see there), and the leases by <see cref="Postgres.PostgresBudgetLeaseStore.ConsumeManySql"/>.</para>
    /// <para>Lock order: the wallet rows, then the key rows, each in id order (<c>ORDER BY … FOR NO KEY UPDATE</c>, the lock an
    /// <c>UPDATE</c> takes), before the lease rows, so two instances' writers over the same keys queue rather than deadlock,
    /// and a writer never holds a lease row while waiting for a key or wallet row (see
    /// <see cref="Postgres.PostgresBudgetLeaseStore"/>).</para>
    /// </remarks>
    private sealed class PostgresStatements : IAsyncDisposable
    {
        private readonly NpgsqlBatch _batch;
        private readonly (IClrPropertyGetter Getter, Func<object?, object?>? Convert, Type Element, NpgsqlParameter Parameter)[] _entryColumns;
        private readonly NpgsqlParameter _walletLockIds, _walletIds, _walletDeltas, _walletNow;
        private readonly NpgsqlParameter _keyLockIds, _keyIds, _keyTotals, _keyStarts, _keyPeriodCharges, _keyUsed;
        private readonly NpgsqlParameter _leaseKinds, _leaseSubjects, _leaseAmounts, _leaseNode;

        public PostgresStatements(NpgsqlConnection connection, ISqlGenerationHelper sql, IModel model)
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
                $"SELECT 1 FROM {Name(sql, walletTable)} WHERE {walletIdColumn} = ANY(@ids::{walletIdType}[]) ORDER BY {walletIdColumn} FOR NO KEY UPDATE");
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
                $"SELECT 1 FROM {Name(sql, keyTable)} WHERE {keyIdColumn} = ANY(@ids::{keyIdType}[]) ORDER BY {keyIdColumn} FOR NO KEY UPDATE");
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
            foreach (var (_, _, element, parameter) in _entryColumns)
            {
                parameter.Value = Array.CreateInstance(element, 0);
            }

            _walletLockIds.Value = _walletIds.Value = _keyLockIds.Value = _keyIds.Value = _leaseSubjects.Value = Array.Empty<string>();
            _walletDeltas.Value = _keyTotals.Value = _keyStarts.Value = _keyPeriodCharges.Value = _keyUsed.Value = _leaseAmounts.Value = Array.Empty<long>();
            _leaseKinds.Value = Array.Empty<short>();
            _walletNow.Value = 0L;
            _leaseNode.Value = "";

            // Entries first (as on every provider), then the wallet and key rows, then the lease rows.
            _batch.BatchCommands.Add(insert);
            _batch.BatchCommands.Add(lockWallets);
            _batch.BatchCommands.Add(updateWallets);
            _batch.BatchCommands.Add(lockKeys);
            _batch.BatchCommands.Add(updateKeys);
            _batch.BatchCommands.Add(consume);
        }

        public Task PrepareAsync(CancellationToken cancellationToken) => _batch.PrepareAsync(cancellationToken);

        /// <summary>Binds the batch's rows and sends every statement in one write, inside <paramref name="transaction"/>.</summary>
        public async Task WriteAsync(NpgsqlTransaction transaction, IReadOnlyList<LedgerEntryEntity> entries, IReadOnlyDictionary<string, long> wallets,
            IReadOnlyList<KeySpend> keys, long nowMs, IReadOnlyDictionary<(LeaseSubjectKind Kind, string SubjectId), long>? leased, string? leaseNode,
            CancellationToken cancellationToken)
        {
            foreach (var (getter, convert, element, parameter) in _entryColumns)
            {
                var values = Array.CreateInstance(element, entries.Count);
                for (int i = 0; i < entries.Count; i++)
                {
                    values.SetValue(ColumnValue(entries[i], getter, convert), i);
                }

                parameter.Value = values;
            }

            var walletIds = new string[wallets.Count];
            var deltas = new long[wallets.Count];
            int w = 0;
            foreach (var (accountId, delta) in wallets)
            {
                walletIds[w] = accountId;
                deltas[w++] = delta;
            }

            _walletLockIds.Value = _walletIds.Value = walletIds;
            _walletDeltas.Value = deltas;
            _walletNow.Value = nowMs;

            BindKeys(keys);

            int leases = leased?.Count ?? 0;
            var kinds = new short[leases];
            var subjects = new string[leases];
            var amounts = new long[leases];
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

            _batch.Transaction = transaction;
            await _batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
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

            _keyLockIds.Value = _keyIds.Value = ids;
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
