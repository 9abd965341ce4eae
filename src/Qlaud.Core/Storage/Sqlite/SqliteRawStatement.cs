using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Qlaud.Storage.Sqlite;

/// <summary>
/// One statement prepared on an open <see cref="SqliteConnection"/>'s native handle, its parameters bound by index and run
/// with <c>sqlite3_step</c>: the ledger writer's insert and updates, thousands of executions per second.
/// </summary>
/// <remarks>
/// Written against SQLitePCLRaw (the layer Microsoft.Data.Sqlite itself runs on) because each <c>SqliteCommand</c> execution
/// looks every parameter up by name and converts the name to UTF-8 again, and goes through a data reader: for a 17-column
/// insert that is a third of the writer's time. It runs inside the connection's own transaction; an error becomes the same
/// <see cref="SqliteException"/> Microsoft.Data.Sqlite would throw.
/// <para>A value equal to the one already bound at its index is not bound again: SQLite keeps a statement's bindings across
/// executions (<c>sqlite3_reset</c> does not clear them, and text is bound as a copy), and consecutive ledger rows repeat most
/// of their columns (account, kind, model, route, the nulls). Binding text converts it to UTF-8 each time; skipping the
/// repeats took a request's metering with its share of the ledger write from 7.9 to 6.0 µs (<c>MeteringBenchmarks</c>).</para>
/// </remarks>
internal sealed class SqliteRawStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;

    /// <summary>The value bound at each 1-based index (boxed), null for SQL NULL, which is what a new statement has bound.</summary>
    private readonly object?[] _bound;

    public SqliteRawStatement(SqliteConnection connection, string sql)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        Check(raw.sqlite3_prepare_v2(_db, sql, out _statement));
        _bound = new object?[raw.sqlite3_bind_parameter_count(_statement) + 1];
    }

    /// <summary>The 1-based index of a named parameter (<c>@name</c>, as written in the SQL).</summary>
    public int IndexOf(string name)
    {
        int index = raw.sqlite3_bind_parameter_index(_statement, name);
        return index > 0 ? index : throw new InvalidOperationException($"The statement has no parameter {name}.");
    }

    /// <summary>Binds a value of the types the ledger stores: integers, booleans, text and null (a <see cref="DBNull"/> too).</summary>
    public void Bind(int index, object? value)
    {
        if (value is DBNull)
        {
            value = null;
        }

        if (Equals(_bound[index], value))
        {
            return;
        }

        Check(value switch
        {
            null => raw.sqlite3_bind_null(_statement, index),
            long number => raw.sqlite3_bind_int64(_statement, index, number),
            int number => raw.sqlite3_bind_int64(_statement, index, number),
            bool flag => raw.sqlite3_bind_int(_statement, index, flag ? 1 : 0),
            string text => raw.sqlite3_bind_text(_statement, index, text),
            double number => raw.sqlite3_bind_double(_statement, index, number),
            _ => throw new NotSupportedException($"A ledger value of type {value.GetType()} cannot be bound."),
        });
        _bound[index] = value;
    }

    public void Bind(int index, long value)
    {
        if (_bound[index] is long bound && bound == value)
        {
            return;
        }

        Check(raw.sqlite3_bind_int64(_statement, index, value));
        _bound[index] = value;
    }

    public void Bind(int index, string value)
    {
        if (_bound[index] is string bound && string.Equals(bound, value, StringComparison.Ordinal))
        {
            return;
        }

        Check(raw.sqlite3_bind_text(_statement, index, value));
        _bound[index] = value;
    }

    /// <summary>Runs the statement to completion and makes it ready for the next execution.</summary>
    public void Execute()
    {
        int rc = raw.sqlite3_step(_statement);
        if (rc != raw.SQLITE_DONE)
        {
            var error = Error(rc); // before the reset, which would replace the message
            raw.sqlite3_reset(_statement);
            throw error;
        }

        raw.sqlite3_reset(_statement);
    }

    public void Dispose() => _statement.Dispose();

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            throw Error(rc);
        }
    }

    private SqliteException Error(int rc) => new(raw.sqlite3_errmsg(_db).utf8_to_string(), rc, raw.sqlite3_extended_errcode(_db));
}
