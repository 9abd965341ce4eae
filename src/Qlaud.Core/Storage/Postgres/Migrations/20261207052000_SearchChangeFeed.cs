using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaud.Storage.Postgres.Migrations
{
    /// <summary>The search change feed on PostgreSQL: the id of the transaction that wrote each search document, and a row per
    /// deleted document (written by a statement trigger, so documents removed by cascade with their messages are recorded too),
    /// from which every instance's in-memory vector index catches up with what other instances indexed and deleted. Written by
    /// hand in SQL (<see cref="PostgresSearchSchema"/>): read and written only by <see cref="PostgresSearchStore"/>'s own
    /// statements, not through the EF model.</summary>
    [DbContext(typeof(QlaudDbContext))]
    [Migration("20261207052000_SearchChangeFeed")]
    public partial class SearchChangeFeed : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(PostgresSearchSchema.CreateChangeFeedSql);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(PostgresSearchSchema.DropChangeFeedSql);
    }
}
