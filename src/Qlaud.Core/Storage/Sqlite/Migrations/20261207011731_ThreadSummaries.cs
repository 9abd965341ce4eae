using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaud.Storage.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class ThreadSummaries : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ContextStrategy",
                table: "threads",
                type: "TEXT",
                maxLength: 32,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "SummarizedMessages",
                table: "threads",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "Summary",
                table: "threads",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "SummaryRequestId",
                table: "threads",
                type: "TEXT",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "SummaryThroughSeq",
                table: "threads",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "SummaryUpdatedAtMs",
                table: "threads",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_threads_UpdatedAtMs",
                table: "threads",
                column: "UpdatedAtMs");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_threads_UpdatedAtMs",
                table: "threads");

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
        }
    }
}
