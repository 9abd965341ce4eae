using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaud.Storage.Postgres.Migrations
{
    /// <summary>Batch claims on PostgreSQL: which instance works on a batch request (or on a batch's native submission, polling
    /// and finalization) and until when. Written by hand in SQL: these columns are read and written only by
    /// <see cref="PostgresBatchClaims"/>'s own statements, not through the EF model, so SQLite's model stays as it is.
    /// The index on <c>claimed_by</c> holds only pending rows, which an instance's renewal and release look up; a request's claim stays on its row after its result is recorded.</summary>
    [DbContext(typeof(QlaudDbContext))]
    [Migration("20261207051000_BatchClaims")]
    public partial class BatchClaims : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                ALTER TABLE batch_requests ADD COLUMN claimed_by character varying(64) NULL;
                ALTER TABLE batch_requests ADD COLUMN claimed_until_ms bigint NULL;
                ALTER TABLE batches ADD COLUMN claimed_by character varying(64) NULL;
                ALTER TABLE batches ADD COLUMN claimed_until_ms bigint NULL;
                CREATE INDEX "IX_batch_requests_claimed_by" ON batch_requests (claimed_by) WHERE "State" = 'Pending' AND claimed_by IS NOT NULL;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP INDEX "IX_batch_requests_claimed_by";
                ALTER TABLE batches DROP COLUMN claimed_until_ms;
                ALTER TABLE batches DROP COLUMN claimed_by;
                ALTER TABLE batch_requests DROP COLUMN claimed_until_ms;
                ALTER TABLE batch_requests DROP COLUMN claimed_by;
                """);
        }
    }
}
