using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace Qlaud.Storage;

/// <summary>A prepared, parameterized <c>INSERT</c> of ledger entries, reused for every row of a batch.</summary>
/// <remarks>
/// <c>SaveChanges</c> sends a batch as one command of many statements that SQLite must parse one by one (a few thousand
/// rows a second); one prepared statement executed per row is an order of magnitude faster. The statement is built from
/// the EF model (table, columns, value converters) and the provider's own identifier quoting and parameter syntax, so it
/// is standard SQL on any relational provider, not SQLite-specific.
/// </remarks>
internal sealed class LedgerInsertCommand : IAsyncDisposable
{
    private readonly DbCommand _command;
    private readonly (IProperty Property, IClrPropertyGetter Getter, Func<object?, object?>? Convert, DbParameter Parameter)[] _columns;

    private LedgerInsertCommand(DbCommand command, (IProperty, IClrPropertyGetter, Func<object?, object?>?, DbParameter)[] columns)
    {
        _command = command;
        _columns = columns;
    }

    public static async Task<LedgerInsertCommand> CreateAsync(QlaudDbContext db, CancellationToken cancellationToken)
    {
        var entity = db.Model.FindEntityType(typeof(LedgerEntryEntity))!;
        var table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
        var sql = db.GetService<ISqlGenerationHelper>();
        var command = db.Database.GetDbConnection().CreateCommand();
        command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction();
        var columns = new List<(IProperty, IClrPropertyGetter, Func<object?, object?>?, DbParameter)>();
        var names = new List<string>();
        var values = new List<string>();
        foreach (var property in entity.GetProperties())
        {
            if (property.ValueGenerated != ValueGenerated.Never)
            {
                continue; // the identity column
            }

            string parameterName = "p" + columns.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var parameter = command.CreateParameter();
            parameter.ParameterName = sql.GenerateParameterName(parameterName);
            command.Parameters.Add(parameter);
            var converter = property.GetValueConverter() ?? property.GetTypeMapping().Converter;
            columns.Add((property, property.GetGetter(), converter is null ? null : converter.ConvertToProvider, parameter));
            names.Add(sql.DelimitIdentifier(property.GetColumnName(table)!));
            values.Add(sql.GenerateParameterNamePlaceholder(parameterName));
        }

        command.CommandText = $"INSERT INTO {sql.DelimitIdentifier(table.Name, table.Schema)} ({string.Join(", ", names)}) VALUES ({string.Join(", ", values)})";
        await command.PrepareAsync(cancellationToken).ConfigureAwait(false);
        return new LedgerInsertCommand(command, [.. columns]);
    }

    public async Task InsertAsync(LedgerEntryEntity entry, CancellationToken cancellationToken)
    {
        foreach (var (_, getter, convert, parameter) in _columns)
        {
            object? value = getter.GetClrValue(entry);
            if (convert is not null && value is not null)
            {
                value = convert(value);
            }

            parameter.Value = value ?? DBNull.Value;
        }

        await _command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _command.DisposeAsync();
}
