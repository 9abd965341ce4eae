using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaud.Storage.Postgres.Migrations
{
    /// <summary>Budget leasing on PostgreSQL: what is leased out of each key's cap and each wallet, the leases themselves, and
    /// the instances' heartbeats. Written by hand in SQL: these columns and tables are read and written only by the lease
    /// store's own statements (<see cref="PostgresBudgetLeaseStore"/>), not through the EF model, so SQLite's model stays as it is.</summary>
    [DbContext(typeof(QlaudDbContext))]
    [Migration("20261207040000_BudgetLeases")]
    public partial class BudgetLeases : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                ALTER TABLE "ApiKeys" ADD COLUMN "LeasedMicros" bigint NOT NULL DEFAULT 0;
                ALTER TABLE "Wallets" ADD COLUMN "LeasedMicros" bigint NOT NULL DEFAULT 0;
                CREATE TABLE budget_leases (
                    subject_kind smallint NOT NULL,
                    subject_id character varying(64) NOT NULL,
                    node_id character varying(64) NOT NULL,
                    amount_micros bigint NOT NULL,
                    expires_at_ms bigint NOT NULL,
                    CONSTRAINT "PK_budget_leases" PRIMARY KEY (subject_kind, subject_id, node_id));
                CREATE INDEX "IX_budget_leases_expires_at_ms" ON budget_leases (expires_at_ms);
                CREATE INDEX "IX_budget_leases_node_id" ON budget_leases (node_id);
                CREATE TABLE gateway_nodes (
                    node_id character varying(64) NOT NULL,
                    seen_at_ms bigint NOT NULL,
                    CONSTRAINT "PK_gateway_nodes" PRIMARY KEY (node_id));
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TABLE gateway_nodes;
                DROP TABLE budget_leases;
                ALTER TABLE "Wallets" DROP COLUMN "LeasedMicros";
                ALTER TABLE "ApiKeys" DROP COLUMN "LeasedMicros";
                """);
        }
    }
}
