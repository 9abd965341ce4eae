using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaud.Storage.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class Search : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "search_documents",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    MessageId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    ThreadId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    AccountId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    EndUserId = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    KeyId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    Role = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    CreatedAtMs = table.Column<long>(type: "INTEGER", nullable: false),
                    Vectors = table.Column<byte[]>(type: "BLOB", nullable: true),
                    Dimensions = table.Column<int>(type: "INTEGER", nullable: false),
                    IndexedAtMs = table.Column<long>(type: "INTEGER", nullable: false)
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
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    MessageId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    EnqueuedAtMs = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_search_queue", x => x.Id);
                });

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

            SqliteSearchSchema.Create(migrationBuilder);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            SqliteSearchSchema.Drop(migrationBuilder);

            migrationBuilder.DropTable(
                name: "search_documents");

            migrationBuilder.DropTable(
                name: "search_queue");
        }
    }
}
