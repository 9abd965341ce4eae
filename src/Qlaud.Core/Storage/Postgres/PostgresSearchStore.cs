using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using Qlaud.Search;
using Qlaud.Storage.Sqlite;

namespace Qlaud.Storage.Postgres;

/// <summary>The PostgreSQL search store: documents in <c>search_documents</c> with their folded text and a <c>tsvector</c> of
/// it (GIN index; <c>ts_rank_cd</c> ranking and <c>ts_headline</c> snippets), embeddings as float32 <c>bytea</c> in the same row.</summary>
/// <remarks>
/// <para>The text is stored with accents and case folded as <see cref="SearchText.Fold"/> folds them, and the query words are
/// folded the same way, so <c>cafe</c> finds <c>CAFÉ</c> as on SQLite, whatever the database's locale; a snippet's marks are
/// carried over to the message's text as written, read from the message. Every query word becomes its own
/// <c>plainto_tsquery</c> (OR-ed together), so no user text is read as query syntax.</para>
/// <para>Several gateways share the queue: a gateway claims rows (<c>FOR UPDATE SKIP LOCKED</c>, then a claim time on the
/// row) so two gateways do not index the same message, and a claim a crashed gateway left behind lapses after
/// <see cref="ClaimTime"/>. Writing is idempotent besides (one document per message), so a lapsed claim that is indexed
/// twice still leaves one document.</para>
/// </remarks>
internal sealed class PostgresSearchStore(IDbContextFactory<QlaudDbContext> factory, StorageInitializer storage, TimeProvider time) : ISearchStore, ISearchChangeFeed
{
    /// <summary>How long a deleted document's row stays in <c>search_deletions</c>: an instance that did not read the feed for
    /// longer keeps that document's vectors in memory until its restart (its hits are dropped, since the document is gone).</summary>
    internal static readonly TimeSpan DeletionsKept = TimeSpan.FromHours(1);

    /// <summary>When this instance last trimmed <c>search_deletions</c> (Unix ms).</summary>
    private long _trimmedAtMs;

    private const string Mark = "<mark>", EndMark = "</mark>", Ellipsis = "…";

    /// <summary>ts_headline's options: one fragment of up to 16 words around the matches, marked as on SQLite.</summary>
    private const string HeadlineOptions = "StartSel=\"<mark>\", StopSel=\"</mark>\", MaxWords=16, MinWords=8, MaxFragments=1, ShortWord=0";

    private const string Config = PostgresSearchSchema.Configuration;

    /// <summary>Characters of a semantic hit's opening when no query word occurs in it.</summary>
    private const int OpeningCharacters = 160;

    /// <summary>How long a claimed queue row stays another gateway's: longer than embedding a batch takes.</summary>
    internal static readonly TimeSpan ClaimTime = TimeSpan.FromMinutes(2);

    public async Task<IReadOnlyList<QueuedMessage>> ReadQueueAsync(int max, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(cancellationToken).ConfigureAwait(false);
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var command = session.Connection.CreateCommand();
        command.CommandText = """
            WITH claimed AS (
                UPDATE search_queue q SET "ClaimedUntilMs" = @until
                FROM (SELECT "Id" FROM search_queue WHERE "ClaimedUntilMs" <= @now ORDER BY "Id" LIMIT @max FOR UPDATE SKIP LOCKED) c
                WHERE q."Id" = c."Id"
                RETURNING q."Id", q."MessageId", q."EnqueuedAtMs")
            SELECT c."Id", c."MessageId", c."EnqueuedAtMs", m."ThreadId", t."AccountId", t."EndUserId", t."KeyId", m."Role", m."ContentJson", m."CreatedAtMs"
            FROM claimed c
            LEFT JOIN thread_messages m ON m."Id" = c."MessageId"
            LEFT JOIN threads t ON t."Id" = m."ThreadId"
            ORDER BY c."Id"
            """;
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("until", now + (long)ClaimTime.TotalMilliseconds);
        command.Parameters.AddWithValue("max", max);
        var queued = new List<QueuedMessage>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
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
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var ids = new long[documents.Count];
        await using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            // Only while the message exists: a message deleted since it was queued leaves nothing behind. A message indexed
            // twice (a claim that lapsed while its gateway was still embedding) keeps its first document.
            insert.CommandText = $"""
                INSERT INTO search_documents ("MessageId", "ThreadId", "AccountId", "EndUserId", "KeyId", "Role", "CreatedAtMs", "Vectors", "Dimensions", "IndexedAtMs", "FoldedText", "Terms")
                SELECT @message, @thread, @account, @endUser, @key, @role, @created, @vectors, @dimensions, @now, @folded, to_tsvector('{Config}', @folded)
                WHERE EXISTS (SELECT 1 FROM thread_messages WHERE "Id" = @message)
                ON CONFLICT ("MessageId") DO NOTHING
                RETURNING "Id"
                """;
            var message = insert.Parameters.Add("message", NpgsqlDbType.Varchar);
            var thread = insert.Parameters.Add("thread", NpgsqlDbType.Varchar);
            var account = insert.Parameters.Add("account", NpgsqlDbType.Varchar);
            var endUser = insert.Parameters.Add("endUser", NpgsqlDbType.Varchar);
            var key = insert.Parameters.Add("key", NpgsqlDbType.Varchar);
            var role = insert.Parameters.Add("role", NpgsqlDbType.Varchar);
            var created = insert.Parameters.Add("created", NpgsqlDbType.Bigint);
            var vectors = insert.Parameters.Add("vectors", NpgsqlDbType.Bytea);
            var dimensions = insert.Parameters.Add("dimensions", NpgsqlDbType.Integer);
            insert.Parameters.AddWithValue("now", nowMs);
            var folded = insert.Parameters.Add("folded", NpgsqlDbType.Text);
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
                vectors.Value = document.Vectors is { Length: > 0 } v ? SqliteSearchStore.Pack(v) : DBNull.Value;
                dimensions.Value = document.Vectors is { Length: > 0 } d ? d[0].Length : 0;
                folded.Value = FoldedText(document.Text);
                if (await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long id)
                {
                    ids[i] = id;
                }
            }
        }

        await using (var dequeue = connection.CreateCommand())
        {
            dequeue.Transaction = transaction;
            dequeue.CommandText = "DELETE FROM search_queue WHERE \"Id\" = ANY(@ids)";
            dequeue.Parameters.AddWithValue("ids", queueIds.ToArray());
            await dequeue.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
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
        await using var command = session.Connection.CreateCommand();
        var filters = new StringBuilder();
        SearchScopeSql.Append(filters, command, scope, static c => "d.\"" + c + "\"", "");

        var (match, matched) = AddQueries(command, terms);
        // The ranking reads only the vectors; the headline (which re-parses the text) is made for the rows kept.
        command.CommandText = $"""
            WITH q AS (SELECT {match} AS m),
            r AS (SELECT d."Id", ts_rank_cd(d."Terms", q.m, 1) AS rank FROM search_documents d, q
                  WHERE d."Terms" @@ q.m AND {filters} ORDER BY rank DESC, d."Id" LIMIT @limit)
            SELECT d."Id", d."MessageId", d."ThreadId", d."Role", d."CreatedAtMs", ts_headline('{Config}', d."FoldedText", q.m, @options), r.rank, {matched},
                   m."ContentJson"
            FROM r JOIN search_documents d ON d."Id" = r."Id" JOIN thread_messages m ON m."Id" = d."MessageId", q
            ORDER BY r.rank DESC, d."Id"
            """;
        command.Parameters.AddWithValue("limit", limit);
        command.Parameters.AddWithValue("options", HeadlineOptions);
        var hits = new List<StoredHit>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            hits.Add(new StoredHit(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4),
                Snippet(reader.GetString(5), SearchText.Extract(reader.GetString(8))), reader.GetFloat(6)) { MatchedTerms = reader.GetInt32(7) });
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
        await using var command = session.Connection.CreateCommand();
        command.Parameters.AddWithValue("ids", documentIds.ToArray());
        if (terms.Count > 0)
        {
            var (match, _) = AddQueries(command, terms);
            command.CommandText = $"""
                WITH q AS (SELECT {match} AS m)
                SELECT d."Id", d."MessageId", d."ThreadId", d."Role", d."CreatedAtMs", m."ContentJson",
                       CASE WHEN d."Terms" @@ q.m THEN ts_headline('{Config}', d."FoldedText", q.m, @options) END
                FROM search_documents d JOIN thread_messages m ON m."Id" = d."MessageId", q WHERE d."Id" = ANY(@ids)
                """;
            command.Parameters.AddWithValue("options", HeadlineOptions);
        }
        else
        {
            command.CommandText = """
                SELECT d."Id", d."MessageId", d."ThreadId", d."Role", d."CreatedAtMs", m."ContentJson", NULL::text
                FROM search_documents d JOIN thread_messages m ON m."Id" = d."MessageId" WHERE d."Id" = ANY(@ids)
                """;
        }

        var hits = new List<StoredHit>(documentIds.Count);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            string text = SearchText.Extract(reader.GetString(5));
            string snippet = reader.IsDBNull(6) ? Opening(text) : Snippet(reader.GetString(6), text);
            hits.Add(new StoredHit(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4), snippet, 0));
        }

        return hits;
    }

    public async IAsyncEnumerable<StoredVectors> ReadVectorsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = session.Connection.CreateCommand();
        command.CommandText = """
            SELECT "Id", "AccountId", "EndUserId", "KeyId", "ThreadId", "CreatedAtMs", "Dimensions", "Vectors"
            FROM search_documents WHERE "Vectors" IS NOT NULL ORDER BY "Id"
            """;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new StoredVectors(reader.GetInt64(0), reader.GetString(1), NullableString(reader, 2), NullableString(reader, 3), reader.GetString(4),
                reader.GetInt64(5), reader.GetInt32(6), (byte[])reader.GetValue(7));
        }
    }

    public async Task<SearchChanges> ReadChangesAsync(string? watermark, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = session.Connection.CreateCommand();
        // One round trip. The next watermark is the oldest transaction still running when the read starts: every row written
        // by an older transaction is committed (or never will be) and visible to the statements that follow, so a read from
        // it misses nothing; rows at or after it may come again and are skipped by the reader.
        const string Next = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text";
        if (watermark is null)
        {
            command.CommandText = Next;
            return new SearchChanges((string)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!, [], []);
        }

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        bool trim = now - Interlocked.Read(ref _trimmedAtMs) >= (long)DeletionsKept.TotalMilliseconds / 6;
        command.CommandText = $"""
            {Next};
            SELECT "Id", "AccountId", "EndUserId", "KeyId", "ThreadId", "CreatedAtMs", "Dimensions", "Vectors"
            FROM search_documents WHERE "WrittenXid" >= @watermark::xid8 AND "Vectors" IS NOT NULL ORDER BY "Id";
            SELECT "AccountId", "DocumentId" FROM search_deletions WHERE "WrittenXid" >= @watermark::xid8;
            {(trim ? "DELETE FROM search_deletions WHERE \"DeletedAt\" < now() - make_interval(secs => @kept);" : "")}
            """;
        command.Parameters.AddWithValue("watermark", watermark);
        if (trim)
        {
            command.Parameters.AddWithValue("kept", DeletionsKept.TotalSeconds);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        string next = reader.GetString(0);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var written = new List<StoredVectors>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            written.Add(new StoredVectors(reader.GetInt64(0), reader.GetString(1), NullableString(reader, 2), NullableString(reader, 3), reader.GetString(4),
                reader.GetInt64(5), reader.GetInt32(6), (byte[])reader.GetValue(7)));
        }

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var deleted = new List<(string, long)>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            deleted.Add((reader.GetString(0), reader.GetInt64(1)));
        }

        if (trim)
        {
            Interlocked.Exchange(ref _trimmedAtMs, now);
        }

        return new SearchChanges(next, written, deleted);
    }

    public async Task<int> CountEndUserAsync(string accountId, string endUserId, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = session.Connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM search_documents WHERE \"AccountId\" = @account AND \"EndUserId\" = @endUser";
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.AddWithValue("endUser", endUserId);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<(long Pending, long? OldestMs)> QueueStateAsync(CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = session.Connection.CreateCommand();
        command.CommandText = "SELECT count(*), min(\"EnqueuedAtMs\") FROM search_queue";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt64(1));
    }

    /// <summary>Adds one parameter per query word, folded, and returns the SQL of the match query (any of the words) and of
    /// the count of the words a document's vector contains.</summary>
    private static (string Match, string Matched) AddQueries(NpgsqlCommand command, IReadOnlyList<string> terms)
    {
        var match = new StringBuilder();
        var matched = new StringBuilder();
        for (int i = 0; i < terms.Count; i++)
        {
            command.Parameters.AddWithValue($"t{i}", FoldedText(terms[i]));
            string query = $"plainto_tsquery('{Config}', @t{i})";
            match.Append(i == 0 ? "" : " || ").Append(query);
            matched.Append(i == 0 ? "" : " + ").Append("(d.\"Terms\" @@ ").Append(query).Append(")::int");
        }

        return (match.ToString(), matched.ToString());
    }

    /// <summary>Text as the index holds it: case and accents folded (<see cref="SearchText.Fold"/>), U+0000 (which PostgreSQL
    /// text cannot hold) as a space.</summary>
    internal static string FoldedText(string text) => SearchText.Fold(text).Replace('\0', ' ');

    /// <summary>The headline <c>ts_headline</c> made from the folded text, laid over the text as written (folding maps each
    /// character to one character or none, so the positions carry over), with an ellipsis on each side where it does not
    /// reach the end of the text. The text's opening when the headline cannot be placed.</summary>
    internal static string Snippet(string foldedHeadline, string text)
    {
        // Where each folded character came from in the text.
        var origin = new List<int>(text.Length + 1);
        var folded = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            string one = FoldedText(text[i].ToString());
            for (int k = 0; k < one.Length; k++)
            {
                origin.Add(i);
                folded.Append(one[k]);
            }
        }

        origin.Add(text.Length);
        string plain = foldedHeadline.Replace(Mark, "", StringComparison.Ordinal).Replace(EndMark, "", StringComparison.Ordinal);
        int at = plain.Length == 0 ? -1 : folded.ToString().IndexOf(plain, StringComparison.Ordinal);
        if (at < 0)
        {
            return Opening(text);
        }

        var snippet = new StringBuilder(foldedHeadline.Length + 2);
        if (at > 0)
        {
            snippet.Append(Ellipsis);
        }

        int position = at; // in the folded text
        int index = 0; // in the headline
        while (index < foldedHeadline.Length)
        {
            if (string.CompareOrdinal(foldedHeadline, index, Mark, 0, Mark.Length) == 0)
            {
                snippet.Append(Mark);
                index += Mark.Length;
                continue;
            }

            if (string.CompareOrdinal(foldedHeadline, index, EndMark, 0, EndMark.Length) == 0)
            {
                snippet.Append(EndMark);
                index += EndMark.Length;
                continue;
            }

            int next = foldedHeadline.IndexOf('<', index + 1);
            int end = next < 0 ? foldedHeadline.Length : next;
            int length = end - index;
            snippet.Append(text, origin[position], origin[position + length] - origin[position]);
            position += length;
            index = end;
        }

        if (position < folded.Length)
        {
            snippet.Append(Ellipsis);
        }

        return snippet.ToString();
    }

    private static string Opening(string text) => text.Length <= OpeningCharacters ? text : text[..OpeningCharacters] + Ellipsis;

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private async Task<Session> OpenAsync(CancellationToken cancellationToken)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await db.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            return new Session(db, (NpgsqlConnection)db.Database.GetDbConnection());
        }
        catch
        {
            await db.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>An open connection of a context, closed with it.</summary>
    private sealed class Session(QlaudDbContext db, NpgsqlConnection connection) : IAsyncDisposable
    {
        public NpgsqlConnection Connection { get; } = connection;

        public async ValueTask DisposeAsync()
        {
            await db.Database.CloseConnectionAsync().ConfigureAwait(false);
            await db.DisposeAsync().ConfigureAwait(false);
        }
    }
}
