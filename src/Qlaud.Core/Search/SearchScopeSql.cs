using System.Data.Common;
using System.Text;

namespace Qlaud.Search;

/// <summary>The <c>WHERE</c> conditions of a <see cref="SearchScope"/> over the search documents, for every storage provider:
/// the account always, then the end user, key, thread and time bounds the scope names, each as a bound parameter.</summary>
internal static class SearchScopeSql
{
    /// <summary>Appends the conditions (the first without <c>AND</c>) and adds their parameters to <paramref name="command"/>.</summary>
    /// <param name="sql">The SQL being built.</param>
    /// <param name="command">The command that gets the parameters.</param>
    /// <param name="scope">The scope.</param>
    /// <param name="column">The provider's quoted column reference for a document column name (<c>d.EndUserId</c>, <c>d."EndUserId"</c>).</param>
    /// <param name="parameterPrefix">What the provider's parameter names start with in the parameter collection (<c>@</c> or empty).</param>
    public static void Append(StringBuilder sql, DbCommand command, SearchScope scope, Func<string, string> column, string parameterPrefix)
    {
        Condition(sql, command, column("AccountId"), "=", "account", scope.AccountId, parameterPrefix, first: true);
        if (scope.EndUserId is { } endUser)
        {
            Condition(sql, command, column("EndUserId"), "=", "endUser", endUser, parameterPrefix);
        }

        if (scope.KeyId is { } key)
        {
            Condition(sql, command, column("KeyId"), "=", "key", key, parameterPrefix);
        }

        if (scope.ThreadId is { } thread)
        {
            Condition(sql, command, column("ThreadId"), "=", "thread", thread, parameterPrefix);
        }

        if (scope.AfterMs is { } after)
        {
            Condition(sql, command, column("CreatedAtMs"), ">", "after", after, parameterPrefix);
        }

        if (scope.BeforeMs is { } before)
        {
            Condition(sql, command, column("CreatedAtMs"), "<", "before", before, parameterPrefix);
        }
    }

    private static void Condition(StringBuilder sql, DbCommand command, string column, string op, string name, object value, string prefix, bool first = false)
    {
        sql.Append(first ? "" : " AND ").Append(column).Append(' ').Append(op).Append(" @").Append(name);
        var parameter = command.CreateParameter();
        parameter.ParameterName = prefix + name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}
