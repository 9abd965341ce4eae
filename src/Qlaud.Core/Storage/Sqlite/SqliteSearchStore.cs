using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Qlaud.Search;

namespace Qlaud.Storage.Sqlite;

/// <summary>The SQLite search store: documents in <c>search_documents</c>, their text in the FTS5 table <c>search_fts</c>
/// (same row id; BM25 ranking and snippets from FTS5), embeddings as float32 BLOBs in the document row.</summary>
/// <remarks>Raw Microsoft.Data.Sqlite on the connection EF Core opens (so the per-connection settings apply): FTS5's
/// <c>MATCH</c>, <c>bm25()</c> and <c>snippet()</c> have no LINQ form. Readers are taken through <see cref="DbCommand"/>
/// (<c>Task&lt;DbDataReader&gt;</c>), not SQLite's <c>Task&lt;SqliteDataReader&gt;</c>: an awaiter over a SQLite type in an
/// async method's state machine makes loading that type load the SQLite assembly, and EF Core loads every type of this
/// assembly when it looks for migrations, also on PostgreSQL.</remarks>
internal sealed class SqliteSearchStore(IDbContextFactory<QlaudDbContext> factory, StorageInitializer storage) : ISearchStore
{
    private const string Mark = "<mark>", EndMark = "</mark>", Ellipsis = "…";

    /// <summary>Tokens around the matches in a snippet.</summary>
    private const int SnippetTokens = 16;

    /// <summary>Characters of a semantic hit's opening when no query word occurs in it.</summary>
    private const int OpeningCharacters = 160;

    public async Task<IReadOnlyList<QueuedMessage>> ReadQueueAsync(int max, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = session.Connection.CreateCommand();
        command.CommandText = """
            SELECT q.Id, q.MessageId, q.EnqueuedAtMs, m.ThreadId, t.AccountId, t.EndUserId, t.KeyId, m.Role, m.ContentJson, m.CreatedAtMs
            FROM search_queue q
            LEFT JOIN thread_messages m ON m.Id = q.MessageId
            LEFT JOIN threads t ON t.Id = m.ThreadId
            ORDER BY q.Id LIMIT @max
            """;
        command.Parameters.AddWithValue("@max", max);
        var queued = new List<QueuedMessage>();
        await using var reader = await ((DbCommand)command).ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            bool exists = !reader.IsDBNull(3) && !reader.IsDBNull(4);
            queued.Add(new QueuedMessage(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2),
                exists ? reader.GetString(3) : null, exists ? reader.GetString(4) : null, NullableString(reader, 5), NullableString(reader, 6),
                exists ? reader.GetString(7) : null, exists ? reader.GetString(8) : null, exists ? reader.GetInt64(9) : 0));
        }

        return queued;
    }

    public async Task<long[]> WriteAsync(IReadOnlyList<IndexedMessage> documents, IReadOnlyList<long> queueIds, long nowMs, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var connection = session.Connection;
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var ids = new long[documents.Count];
        using (var insert = connection.CreateCommand())
        using (var text = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            // Only while the message exists: a message deleted since it was queued leaves nothing behind. A message indexed
            // twice (a crash between commit and the queue delete cannot happen, but a second gateway could race) keeps its first document.
            insert.CommandText = """
                INSERT INTO search_documents (MessageId, ThreadId, AccountId, EndUserId, KeyId, Role, CreatedAtMs, Vectors, Dimensions, IndexedAtMs)
                SELECT @message, @thread, @account, @endUser, @key, @role, @created, @vectors, @dimensions, @now
                WHERE EXISTS (SELECT 1 FROM thread_messages WHERE Id = @message)
                ON CONFLICT (MessageId) DO NOTHING
                RETURNING Id
                """;
            var message = insert.Parameters.Add("@message", SqliteType.Text);
            var thread = insert.Parameters.Add("@thread", SqliteType.Text);
            var account = insert.Parameters.Add("@account", SqliteType.Text);
            var endUser = insert.Parameters.Add("@endUser", SqliteType.Text);
            var key = insert.Parameters.Add("@key", SqliteType.Text);
            var role = insert.Parameters.Add("@role", SqliteType.Text);
            var created = insert.Parameters.Add("@created", SqliteType.Integer);
            var vectors = insert.Parameters.Add("@vectors", SqliteType.Blob);
            var dimensions = insert.Parameters.Add("@dimensions", SqliteType.Integer);
            insert.Parameters.AddWithValue("@now", nowMs);
            text.Transaction = transaction;
            text.CommandText = "INSERT INTO search_fts (rowid, text) VALUES (@id, @text)";
            var textId = text.Parameters.Add("@id", SqliteType.Integer);
            var textValue = text.Parameters.Add("@text", SqliteType.Text);
            for (int i = 0; i < documents.Count; i++)
            {
                var document = documents[i];
                message.Value = document.MessageId;
                thread.Value = document.ThreadId;
                account.Value = document.AccountId;
                endUser.Value = (object?)document.EndUserId ?? DBNull.Value;
                key.Value = (object?)document.KeyId ?? DBNull.Value;
                role.Value = document.Role;
                created.Value = document.CreatedAtMs;
                vectors.Value = document.Vectors is { Length: > 0 } v ? Pack(v) : DBNull.Value;
                dimensions.Value = document.Vectors is { Length: > 0 } d ? d[0].Length : 0;
                if (await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long id)
                {
                    ids[i] = id;
                    textId.Value = id;
                    textValue.Value = document.Text;
                    await text.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }

        using (var dequeue = connection.CreateCommand())
        {
            dequeue.Transaction = transaction;
            dequeue.CommandText = "DELETE FROM search_queue WHERE Id = @id";
            var id = dequeue.Parameters.Add("@id", SqliteType.Integer);
            foreach (long queueId in queueIds)
            {
                id.Value = queueId;
                await dequeue.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return ids;
    }

    public async Task<IReadOnlyList<StoredHit>> KeywordSearchAsync(SearchScope scope, IReadOnlyList<string> terms, int limit, CancellationToken cancellationToken)
    {
        if (terms.Count == 0)
        {
            return [];
        }

        await using var session = await OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = session.Connection.CreateCommand();
        var sql = new StringBuilder("""
            SELECT d.Id, d.MessageId, d.ThreadId, d.Role, d.CreatedAtMs, snippet(search_fts, 0, @mark, @endMark, @ellipsis, @tokens), bm25(search_fts),
                   highlight(search_fts, 0, char(1), char(2))
            FROM search_fts JOIN search_documents d ON d.Id = search_fts.rowid
            WHERE search_fts MATCH @query
            """).Append(" AND ");
        SearchScopeSql.Append(sql, command, scope, static c => "d." + c, "@");
        sql.Append(" ORDER BY bm25(search_fts) LIMIT @limit");
        command.CommandText = sql.ToString();
        command.Parameters.AddWithValue("@limit", limit);
        command.Parameters.AddWithValue("@query", MatchAny(terms));
        AddSnippetParameters(command);
        var hits = new List<StoredHit>();
        await using var reader = await ((DbCommand)command).ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // bm25() is lower for better matches (negative); the hit's score is its negation, higher is better.
            hits.Add(new StoredHit(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4),
                reader.GetString(5), -reader.GetDouble(6)) { MatchedTerms = MatchedTerms(reader.GetString(7), terms) });
        }

        return hits;
    }

    public async Task<IReadOnlyList<StoredHit>> ReadHitsAsync(IReadOnlyList<long> documentIds, IReadOnlyList<string> terms, CancellationToken cancellationToken)
    {
        if (documentIds.Count == 0)
        {
            return [];
        }

        await using var session = await OpenAsync(cancellationToken).ConfigureAwait(false);
        string ids = string.Join(',', documentIds); // integers only
        var snippets = new Dictionary<long, string>();
        if (terms.Count > 0)
        {
            using var matched = session.Connection.CreateCommand();
            matched.CommandText = $"SELECT rowid, snippet(search_fts, 0, @mark, @endMark, @ellipsis, @tokens) FROM search_fts WHERE search_fts MATCH @query AND rowid IN ({ids})";
            matched.Parameters.AddWithValue("@query", MatchAny(terms));
            AddSnippetParameters(matched);
            await using var reader = await ((DbCommand)matched).ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                snippets[reader.GetInt64(0)] = reader.GetString(1);
            }
        }

        using var command = session.Connection.CreateCommand();
        command.CommandText = $"""
            SELECT d.Id, d.MessageId, d.ThreadId, d.Role, d.CreatedAtMs, substr(f.text, 1, {OpeningCharacters + 1})
            FROM search_documents d JOIN search_fts f ON f.rowid = d.Id WHERE d.Id IN ({ids})
            """;
        var hits = new List<StoredHit>(documentIds.Count);
        await using (var reader = await ((DbCommand)command).ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                long id = reader.GetInt64(0);
                string snippet = snippets.TryGetValue(id, out var s) ? s : Opening(reader.GetString(5));
                hits.Add(new StoredHit(id, reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4), snippet, 0));
            }
        }

        return hits;
    }

    public async IAsyncEnumerable<StoredVectors> ReadVectorsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = session.Connection.CreateCommand();
        command.CommandText = "SELECT Id, AccountId, EndUserId, KeyId, ThreadId, CreatedAtMs, Dimensions, Vectors FROM search_documents WHERE Vectors IS NOT NULL ORDER BY Id";
        await using var reader = await ((DbCommand)command).ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new StoredVectors(reader.GetInt64(0), reader.GetString(1), NullableString(reader, 2), NullableString(reader, 3), reader.GetString(4),
                reader.GetInt64(5), reader.GetInt32(6), (byte[])reader.GetValue(7));
        }
    }

    public async Task<int> CountEndUserAsync(string accountId, string endUserId, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = session.Connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM search_documents WHERE AccountId = @account AND EndUserId = @endUser";
        command.Parameters.AddWithValue("@account", accountId);
        command.Parameters.AddWithValue("@endUser", endUserId);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<(long Pending, long? OldestMs)> QueueStateAsync(CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = session.Connection.CreateCommand();
        command.CommandText = "SELECT count(*), min(EnqueuedAtMs) FROM search_queue";
        await using var reader = await ((DbCommand)command).ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt64(1));
    }

    /// <summary>An FTS5 query matching any of the words: each one quoted, so no user text is read as FTS5 syntax.</summary>
    internal static string MatchAny(IReadOnlyList<string> terms)
    {
        var query = new StringBuilder();
        foreach (string term in terms)
        {
            if (query.Length > 0)
            {
                query.Append(" OR ");
            }

            query.Append('"').Append(term.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
        }

        return query.ToString();
    }

    internal static byte[] Pack(float[][] vectors)
    {
        int dimensions = vectors[0].Length;
        var bytes = new byte[vectors.Length * dimensions * sizeof(float)];
        for (int i = 0; i < vectors.Length; i++)
        {
            if (vectors[i].Length != dimensions)
            {
                throw new InvalidOperationException("The embedding generator returned vectors of different lengths for one message.");
            }

            MemoryMarshal.AsBytes(vectors[i].AsSpan()).CopyTo(bytes.AsSpan(i * dimensions * sizeof(float)));
        }

        return bytes;
    }

    /// <summary>How many of <paramref name="terms"/> occur in a text FTS5 highlighted with \u0001 … \u0002 around each matched token.</summary>
    private static int MatchedTerms(string highlighted, IReadOnlyList<string> terms)
    {
        var matched = new HashSet<string>(StringComparer.Ordinal);
        int start = highlighted.IndexOf('\u0001', StringComparison.Ordinal);
        while (start >= 0)
        {
            int end = highlighted.IndexOf('\u0002', start + 1);
            if (end < 0)
            {
                break;
            }

            matched.Add(SearchText.Fold(highlighted.AsSpan(start + 1, end - start - 1)));
            start = highlighted.IndexOf('\u0001', end + 1);
        }

        int count = 0;
        foreach (string term in terms)
        {
            if (matched.Contains(SearchText.Fold(term)))
            {
                count++;
            }
        }

        return count;
    }

    private static string Opening(string text) => text.Length <= OpeningCharacters ? text : text[..OpeningCharacters] + Ellipsis;

    private static void AddSnippetParameters(SqliteCommand command)
    {
        command.Parameters.AddWithValue("@mark", Mark);
        command.Parameters.AddWithValue("@endMark", EndMark);
        command.Parameters.AddWithValue("@ellipsis", Ellipsis);
        command.Parameters.AddWithValue("@tokens", SnippetTokens);
    }

    private static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private async Task<Session> OpenAsync(CancellationToken cancellationToken)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await db.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            return new Session(db, (SqliteConnection)db.Database.GetDbConnection());
        }
        catch
        {
            await db.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>An open connection of a context, closed with it.</summary>
    private sealed class Session(QlaudDbContext db, SqliteConnection connection) : IAsyncDisposable
    {
        public SqliteConnection Connection { get; } = connection;

        public async ValueTask DisposeAsync()
        {
            await db.Database.CloseConnectionAsync().ConfigureAwait(false);
            await db.DisposeAsync().ConfigureAwait(false);
        }
    }
}
