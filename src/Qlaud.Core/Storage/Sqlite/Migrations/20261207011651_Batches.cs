using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaud.Storage.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class Batches : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "BatchId",
                table: "LedgerEntries",
                type: "TEXT",
                maxLength: 64,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "batch_files",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    AccountId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    EndUserId = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    KeyId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    Filename = table.Column<string>(type: "TEXT", maxLength: 512, nullable: false),
                    Purpose = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Bytes = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedAtMs = table.Column<long>(type: "INTEGER", nullable: false)
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
                    Id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Surface = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Endpoint = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    AccountId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    KeyId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    EndUserId = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    CallerIsMaster = table.Column<bool>(type: "INTEGER", nullable: false),
                    CallerIsAdmin = table.Column<bool>(type: "INTEGER", nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    InputFileId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    OutputFileId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    ErrorFileId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    CompletionWindow = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    MetadataJson = table.Column<string>(type: "TEXT", nullable: true),
                    ErrorsJson = table.Column<string>(type: "TEXT", nullable: true),
                    RequestCount = table.Column<int>(type: "INTEGER", nullable: false),
                    NativeProvider = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    NativeBatchId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    NativeCancelSent = table.Column<bool>(type: "INTEGER", nullable: false),
                    UnpricedRequests = table.Column<int>(type: "INTEGER", nullable: false),
                    CreatedAtMs = table.Column<long>(type: "INTEGER", nullable: false),
                    ExpiresAtMs = table.Column<long>(type: "INTEGER", nullable: false),
                    InProgressAtMs = table.Column<long>(type: "INTEGER", nullable: true),
                    FinalizingAtMs = table.Column<long>(type: "INTEGER", nullable: true),
                    CompletedAtMs = table.Column<long>(type: "INTEGER", nullable: true),
                    FailedAtMs = table.Column<long>(type: "INTEGER", nullable: true),
                    ExpiredAtMs = table.Column<long>(type: "INTEGER", nullable: true),
                    CancellingAtMs = table.Column<long>(type: "INTEGER", nullable: true),
                    CancelledAtMs = table.Column<long>(type: "INTEGER", nullable: true)
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
                name: "batch_requests",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    BatchId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Index = table.Column<int>(type: "INTEGER", nullable: false),
                    CustomId = table.Column<string>(type: "TEXT", maxLength: 512, nullable: false),
                    Body = table.Column<byte[]>(type: "BLOB", nullable: false),
                    State = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    StatusCode = table.Column<int>(type: "INTEGER", nullable: true),
                    ResponseBody = table.Column<byte[]>(type: "BLOB", nullable: true),
                    RequestId = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    FinishedAtMs = table.Column<long>(type: "INTEGER", nullable: true)
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
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "batch_files");

            migrationBuilder.DropTable(
                name: "batch_requests");

            migrationBuilder.DropTable(
                name: "batches");

            migrationBuilder.DropIndex(
                name: "IX_LedgerEntries_BatchId",
                table: "LedgerEntries");

            migrationBuilder.DropColumn(
                name: "BatchId",
                table: "LedgerEntries");
        }
    }
}
