namespace Qlaud.Storage.Postgres;

/// <summary>The PostgreSQL-only part of the search schema, applied by the migration <c>PostgresSearch</c>: each document's
/// text with case and accents folded and its <c>tsvector</c> in the document row (so a document's text goes with it, and a
/// document goes with its message by cascade; the text as written is read from the message), the GIN index over the vectors, the claim column that lets several gateways share the indexing queue, and the
/// queueing of messages persisted while search was off.</summary>
/// <remarks>The columns are read and written only by <see cref="PostgresSearchStore"/>'s own statements, not through the EF
/// model, so SQLite's model stays as it is.</remarks>
internal static class PostgresSearchSchema
{
    /// <summary>The text search configuration: <c>simple</c> lower-cases and neither stems nor drops stop words, so any
    /// language is indexed the same way (accents are folded by the store before the text reaches it).</summary>
    public const string Configuration = "simple";

    public const string CreateSql = """
        ALTER TABLE search_documents ADD COLUMN "FoldedText" text NOT NULL DEFAULT '';
        ALTER TABLE search_documents ADD COLUMN "Terms" tsvector NOT NULL DEFAULT ''::tsvector;
        CREATE INDEX "IX_search_documents_Terms" ON search_documents USING GIN ("Terms");
        ALTER TABLE search_queue ADD COLUMN "ClaimedUntilMs" bigint NOT NULL DEFAULT 0;
        CREATE INDEX "IX_search_queue_ClaimedUntilMs" ON search_queue ("ClaimedUntilMs");
        INSERT INTO search_queue ("MessageId", "EnqueuedAtMs")
        SELECT m."Id", m."CreatedAtMs" FROM thread_messages m
        WHERE NOT EXISTS (SELECT 1 FROM search_documents d WHERE d."MessageId" = m."Id")
          AND NOT EXISTS (SELECT 1 FROM search_queue q WHERE q."MessageId" = m."Id")
        ORDER BY m."CreatedAtMs", m."Id";
        """;

    public const string DropSql = """
        DROP INDEX IF EXISTS "IX_search_queue_ClaimedUntilMs";
        ALTER TABLE search_queue DROP COLUMN IF EXISTS "ClaimedUntilMs";
        DROP INDEX IF EXISTS "IX_search_documents_Terms";
        ALTER TABLE search_documents DROP COLUMN IF EXISTS "Terms";
        ALTER TABLE search_documents DROP COLUMN IF EXISTS "FoldedText";
        """;

    /// <summary>The change feed (migration <c>SearchChangeFeed</c>): <c>"WrittenXid"</c> on each document (the id of the
    /// transaction that inserted it) and <c>search_deletions</c>, a row per deleted document that had vectors, with the deleting
    /// transaction's id. An instance reads the rows written by transactions at or after the oldest one still running at its
    /// previous read (<c>pg_snapshot_xmin</c>), so a row committed late by a long transaction is not skipped.</summary>
    public const string CreateChangeFeedSql = """
        ALTER TABLE search_documents ADD COLUMN "WrittenXid" xid8 NOT NULL DEFAULT pg_current_xact_id();
        CREATE INDEX "IX_search_documents_WrittenXid" ON search_documents ("WrittenXid");
        CREATE TABLE search_deletions (
            "DocumentId" bigint NOT NULL,
            "AccountId" text NOT NULL,
            "WrittenXid" xid8 NOT NULL DEFAULT pg_current_xact_id(),
            "DeletedAt" timestamp with time zone NOT NULL DEFAULT now());
        CREATE INDEX "IX_search_deletions_WrittenXid" ON search_deletions ("WrittenXid");
        CREATE INDEX "IX_search_deletions_DeletedAt" ON search_deletions ("DeletedAt");
        CREATE FUNCTION qlaud_search_documents_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO search_deletions ("DocumentId", "AccountId") SELECT "Id", "AccountId" FROM gone WHERE "Vectors" IS NOT NULL;
            RETURN NULL;
        END $$;
        CREATE TRIGGER search_documents_deleted AFTER DELETE ON search_documents
            REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION qlaud_search_documents_deleted();
        """;

    public const string DropChangeFeedSql = """
        DROP TRIGGER IF EXISTS search_documents_deleted ON search_documents;
        DROP FUNCTION IF EXISTS qlaud_search_documents_deleted();
        DROP TABLE IF EXISTS search_deletions;
        DROP INDEX IF EXISTS "IX_search_documents_WrittenXid";
        ALTER TABLE search_documents DROP COLUMN IF EXISTS "WrittenXid";
        """;
}
