using Microsoft.EntityFrameworkCore;

namespace Qlaud.Storage;

/// <summary>The connector tables: connections, connect links, webhook tools and the Data Protection key ring.</summary>
internal sealed partial class QlaudDbContext
{
    private static void ConfigureConnectors(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<ConnectionEntity>(static connection =>
        {
            connection.ToTable("connections");
            connection.HasKey(static c => c.Id);
            connection.Property(static c => c.Id).HasMaxLength(64);
            connection.Property(static c => c.AccountId).HasMaxLength(64);
            connection.Property(static c => c.EndUserId).HasMaxLength(256);
            connection.Property(static c => c.ConnectorId).HasMaxLength(128);
            connection.Property(static c => c.ServerUrl).HasMaxLength(2048);
            connection.Property(static c => c.Status).HasMaxLength(16);
            connection.Property(static c => c.Error).HasMaxLength(1000);
            connection.HasIndex(static c => new { c.AccountId, c.EndUserId, c.ConnectorId }).IsUnique();
            connection.HasOne<AccountEntity>().WithMany().HasForeignKey(static c => c.AccountId);
        });

        modelBuilder.Entity<ConnectTokenEntity>(static token =>
        {
            token.ToTable("connect_tokens");
            token.HasKey(static t => t.TokenHash);
            token.Property(static t => t.TokenHash).HasMaxLength(64);
            token.Property(static t => t.ConnectionId).HasMaxLength(64);
            token.Property(static t => t.AccountId).HasMaxLength(64);
            token.Property(static t => t.EndUserId).HasMaxLength(256);
            token.Property(static t => t.ConnectorId).HasMaxLength(128);
            token.Property(static t => t.StateHash).HasMaxLength(64);
            token.HasIndex(static t => t.StateHash).IsUnique().HasFilter("\"StateHash\" IS NOT NULL");
            token.HasIndex(static t => t.ConnectionId);
            token.HasOne<ConnectionEntity>().WithMany().HasForeignKey(static t => t.ConnectionId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<WebhookToolEntity>(static tool =>
        {
            tool.ToTable("webhook_tools");
            tool.HasKey(static t => t.Id);
            tool.Property(static t => t.Id).HasMaxLength(64);
            tool.Property(static t => t.AccountId).HasMaxLength(64);
            tool.Property(static t => t.EndUserId).HasMaxLength(256);
            tool.Property(static t => t.Name).HasMaxLength(64);
            tool.Property(static t => t.Description).HasMaxLength(4000);
            tool.Property(static t => t.Url).HasMaxLength(2048);
            tool.HasIndex(static t => new { t.AccountId, t.Name }).IsUnique();
            tool.HasIndex(static t => new { t.AccountId, t.EndUserId });
            tool.HasOne<AccountEntity>().WithMany().HasForeignKey(static t => t.AccountId);
        });

        modelBuilder.Entity<DataProtectionKeyEntity>(static key =>
        {
            key.ToTable("data_protection_keys");
            key.HasKey(static k => k.Id);
            key.Property(static k => k.Id).ValueGeneratedOnAdd();
            key.Property(static k => k.FriendlyName).HasMaxLength(256);
        });
    }
}
