using Microsoft.EntityFrameworkCore.Migrations;

namespace Qlaud.Storage.Sqlite;

/// <summary>The SQLite-only part of the search schema, applied by the migration that creates <c>search_documents</c>: the FTS5
/// table holding each indexed message's text under its document's row id, the trigger that deletes that text with the
/// document (a document goes with its message by cascade), and the queueing of messages persisted before search existed.</summary>
internal static class SqliteSearchSchema
{
    /// <summary>unicode61 folds case and, with <c>remove_diacritics 2</c>, accents (<c>café</c> matches <c>cafe</c>).</summary>
    public const string CreateSql = """
        CREATE VIRTUAL TABLE search_fts USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
        CREATE TRIGGER search_documents_delete_text AFTER DELETE ON search_documents
        BEGIN
            DELETE FROM search_fts WHERE rowid = old.Id;
        END;
        INSERT INTO search_queue (MessageId, EnqueuedAtMs) SELECT Id, CreatedAtMs FROM thread_messages ORDER BY CreatedAtMs, Id;
        """;

    public const string DropSql = """
        DROP TRIGGER IF EXISTS search_documents_delete_text;
        DROP TABLE IF EXISTS search_fts;
        """;

    public static void Create(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(CreateSql);

    public static void Drop(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(DropSql);
}
