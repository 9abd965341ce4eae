using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Qlaud.Storage.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class PostgresThreadsSearchBatchesConnectors : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ContextStrategy",
                table: "threads",
                type: "character varying(32)",
                maxLength: 32,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "SummarizedMessages",
                table: "threads",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "Summary",
                table: "threads",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "SummaryRequestId",
                table: "threads",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "SummaryThroughSeq",
                table: "threads",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "SummaryUpdatedAtMs",
                table: "threads",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "ContextTokens",
                table: "thread_messages",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<string>(
                name: "BatchId",
                table: "LedgerEntries",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "batch_files",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    AccountId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    EndUserId = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    KeyId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    Filename = table.Column<string>(type: "character varying(512)", maxLength: 512, nullable: false),
                    Purpose = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    Bytes = table.Column<long>(type: "bigint", nullable: false),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_batch_files", x => x.Id);
                    table.ForeignKey(
                        name: "FK_batch_files_Accounts_AccountId",
                        column: x => x.AccountId,
                        principalTable: "Accounts",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "batches",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Surface = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    Endpoint = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    AccountId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    KeyId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    EndUserId = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    CallerIsMaster = table.Column<bool>(type: "boolean", nullable: false),
                    CallerIsAdmin = table.Column<bool>(type: "boolean", nullable: false),
                    Status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    InputFileId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    OutputFileId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    ErrorFileId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    CompletionWindow = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    MetadataJson = table.Column<string>(type: "text", nullable: true),
                    ErrorsJson = table.Column<string>(type: "text", nullable: true),
                    RequestCount = table.Column<int>(type: "integer", nullable: false),
                    NativeProvider = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    NativeBatchId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    NativeCancelSent = table.Column<bool>(type: "boolean", nullable: false),
                    UnpricedRequests = table.Column<int>(type: "integer", nullable: false),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false),
                    ExpiresAtMs = table.Column<long>(type: "bigint", nullable: false),
                    InProgressAtMs = table.Column<long>(type: "bigint", nullable: true),
                    FinalizingAtMs = table.Column<long>(type: "bigint", nullable: true),
                    CompletedAtMs = table.Column<long>(type: "bigint", nullable: true),
                    FailedAtMs = table.Column<long>(type: "bigint", nullable: true),
                    ExpiredAtMs = table.Column<long>(type: "bigint", nullable: true),
                    CancellingAtMs = table.Column<long>(type: "bigint", nullable: true),
                    CancelledAtMs = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_batches", x => x.Id);
                    table.ForeignKey(
                        name: "FK_batches_Accounts_AccountId",
                        column: x => x.AccountId,
                        principalTable: "Accounts",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "connections",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    AccountId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    EndUserId = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    ConnectorId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    ServerUrl = table.Column<string>(type: "character varying(2048)", maxLength: 2048, nullable: false),
                    Status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    CredentialCipher = table.Column<string>(type: "text", nullable: true),
                    CredentialVersion = table.Column<long>(type: "bigint", nullable: false),
                    Error = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: true),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false),
                    UpdatedAtMs = table.Column<long>(type: "bigint", nullable: false),
                    LastUsedAtMs = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_connections", x => x.Id);
                    table.ForeignKey(
                        name: "FK_connections_Accounts_AccountId",
                        column: x => x.AccountId,
                        principalTable: "Accounts",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "data_protection_keys",
                columns: table => new
                {
                    Id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    FriendlyName = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    Xml = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_data_protection_keys", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "search_documents",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    MessageId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    ThreadId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    AccountId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    EndUserId = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    KeyId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    Role = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false),
                    Vectors = table.Column<byte[]>(type: "bytea", nullable: true),
                    Dimensions = table.Column<int>(type: "integer", nullable: false),
                    IndexedAtMs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_search_documents", x => x.Id);
                    table.ForeignKey(
                        name: "FK_search_documents_thread_messages_MessageId",
                        column: x => x.MessageId,
                        principalTable: "thread_messages",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "search_queue",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    MessageId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    EnqueuedAtMs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_search_queue", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "batch_requests",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    BatchId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Index = table.Column<int>(type: "integer", nullable: false),
                    CustomId = table.Column<string>(type: "character varying(512)", maxLength: 512, nullable: false),
                    Body = table.Column<byte[]>(type: "bytea", nullable: false),
                    State = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    StatusCode = table.Column<int>(type: "integer", nullable: true),
                    ResponseBody = table.Column<byte[]>(type: "bytea", nullable: true),
                    RequestId = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    FinishedAtMs = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_batch_requests", x => x.Id);
                    table.ForeignKey(
                        name: "FK_batch_requests_batches_BatchId",
                        column: x => x.BatchId,
                        principalTable: "batches",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "connect_tokens",
                columns: table => new
                {
                    TokenHash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    ConnectionId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    AccountId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    EndUserId = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    ConnectorId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    FlowCipher = table.Column<string>(type: "text", nullable: true),
                    StateHash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false),
                    ExpiresAtMs = table.Column<long>(type: "bigint", nullable: false),
                    UsedAtMs = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_connect_tokens", x => x.TokenHash);
                    table.ForeignKey(
                        name: "FK_connect_tokens_connections_ConnectionId",
                        column: x => x.ConnectionId,
                        principalTable: "connections",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_threads_UpdatedAtMs",
                table: "threads",
                column: "UpdatedAtMs");

            migrationBuilder.CreateIndex(
                name: "IX_LedgerEntries_BatchId",
                table: "LedgerEntries",
                column: "BatchId",
                filter: "\"BatchId\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_batch_files_AccountId_Id",
                table: "batch_files",
                columns: new[] { "AccountId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_batch_requests_BatchId_Index",
                table: "batch_requests",
                columns: new[] { "BatchId", "Index" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_batch_requests_BatchId_State",
                table: "batch_requests",
                columns: new[] { "BatchId", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_batches_AccountId_Surface_Id",
                table: "batches",
                columns: new[] { "AccountId", "Surface", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_batches_Status",
                table: "batches",
                column: "Status");

            migrationBuilder.CreateIndex(
                name: "IX_connect_tokens_ConnectionId",
                table: "connect_tokens",
                column: "ConnectionId");

            migrationBuilder.CreateIndex(
                name: "IX_connect_tokens_StateHash",
                table: "connect_tokens",
                column: "StateHash",
                unique: true,
                filter: "\"StateHash\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_connections_AccountId_EndUserId_ConnectorId",
                table: "connections",
                columns: new[] { "AccountId", "EndUserId", "ConnectorId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_search_documents_AccountId_EndUserId",
                table: "search_documents",
                columns: new[] { "AccountId", "EndUserId" });

            migrationBuilder.CreateIndex(
                name: "IX_search_documents_MessageId",
                table: "search_documents",
                column: "MessageId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_search_documents_ThreadId",
                table: "search_documents",
                column: "ThreadId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "batch_files");

            migrationBuilder.DropTable(
                name: "batch_requests");

            migrationBuilder.DropTable(
                name: "connect_tokens");

            migrationBuilder.DropTable(
                name: "data_protection_keys");

            migrationBuilder.DropTable(
                name: "search_documents");

            migrationBuilder.DropTable(
                name: "search_queue");

            migrationBuilder.DropTable(
                name: "batches");

            migrationBuilder.DropTable(
                name: "connections");

            migrationBuilder.DropIndex(
                name: "IX_threads_UpdatedAtMs",
                table: "threads");

            migrationBuilder.DropIndex(
                name: "IX_LedgerEntries_BatchId",
                table: "LedgerEntries");

            migrationBuilder.DropColumn(
                name: "ContextStrategy",
                table: "threads");

            migrationBuilder.DropColumn(
                name: "SummarizedMessages",
                table: "threads");

            migrationBuilder.DropColumn(
                name: "Summary",
                table: "threads");

            migrationBuilder.DropColumn(
                name: "SummaryRequestId",
                table: "threads");

            migrationBuilder.DropColumn(
                name: "SummaryThroughSeq",
                table: "threads");

            migrationBuilder.DropColumn(
                name: "SummaryUpdatedAtMs",
                table: "threads");

            migrationBuilder.DropColumn(
                name: "ContextTokens",
                table: "thread_messages");

            migrationBuilder.DropColumn(
                name: "BatchId",
                table: "LedgerEntries");
        }
    }
}
