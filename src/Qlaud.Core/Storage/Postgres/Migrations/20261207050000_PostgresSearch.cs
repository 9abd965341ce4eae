using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaud.Storage.Postgres.Migrations
{
    /// <summary>Search on PostgreSQL: the documents' text, <c>tsvector</c> and GIN index, and the queue's claim column.
    /// Written by hand in SQL (<see cref="PostgresSearchSchema"/>): these columns are read and written only by
    /// <see cref="PostgresSearchStore"/>'s own statements, not through the EF model.</summary>
    [DbContext(typeof(QlaudDbContext))]
    [Migration("20261207050000_PostgresSearch")]
    public partial class PostgresSearch : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(PostgresSearchSchema.CreateSql);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(PostgresSearchSchema.DropSql);
    }
}
