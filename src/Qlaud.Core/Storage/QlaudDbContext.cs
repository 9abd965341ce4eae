using Microsoft.EntityFrameworkCore;

namespace Qlaud.Storage;

/// <summary>
/// The gateway's store: accounts, API keys, wallets, the ledger, payments waiting for their account, the gateway's own
/// secrets, managed threads, connector connections and the key ring that protects their credentials.
/// </summary>
/// <remarks>
/// The model is provider-neutral: times are Unix milliseconds (<see langword="long"/>), money is micro-USD
/// (<see langword="long"/>), enums are strings, and no service issues provider-specific SQL. Provider details
/// (connection, pragmas, migrations assembly) live in an <see cref="IStorageProvider"/>.
/// </remarks>
internal sealed partial class QlaudDbContext(DbContextOptions<QlaudDbContext> options) : DbContext(options)
{
    public DbSet<AccountEntity> Accounts => Set<AccountEntity>();

    public DbSet<ApiKeyEntity> ApiKeys => Set<ApiKeyEntity>();

    public DbSet<WalletEntity> Wallets => Set<WalletEntity>();

    public DbSet<LedgerEntryEntity> LedgerEntries => Set<LedgerEntryEntity>();

    public DbSet<GatewaySecretEntity> GatewaySecrets => Set<GatewaySecretEntity>();

    public DbSet<UnappliedPaymentEntity> UnappliedPayments => Set<UnappliedPaymentEntity>();

    public DbSet<ThreadEntity> Threads => Set<ThreadEntity>();

    public DbSet<ThreadMessageEntity> ThreadMessages => Set<ThreadMessageEntity>();

    public DbSet<ThreadTurnRecordEntity> ThreadTurnRecords => Set<ThreadTurnRecordEntity>();

    public DbSet<SearchDocumentEntity> SearchDocuments => Set<SearchDocumentEntity>();

    public DbSet<SearchQueueEntity> SearchQueue => Set<SearchQueueEntity>();
    public DbSet<ConnectionEntity> Connections => Set<ConnectionEntity>();

    public DbSet<ConnectTokenEntity> ConnectTokens => Set<ConnectTokenEntity>();

    public DbSet<WebhookToolEntity> WebhookTools => Set<WebhookToolEntity>();

    public DbSet<DataProtectionKeyEntity> DataProtectionKeys => Set<DataProtectionKeyEntity>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<AccountEntity>(static account =>
        {
            account.HasKey(static a => a.Id);
            account.Property(static a => a.Id).HasMaxLength(64);
            account.Property(static a => a.Name).HasMaxLength(200);
        });

        modelBuilder.Entity<WalletEntity>(static wallet =>
        {
            wallet.HasKey(static w => w.AccountId);
            wallet.Property(static w => w.AccountId).HasMaxLength(64);
            wallet.HasOne<AccountEntity>().WithOne().HasForeignKey<WalletEntity>(static w => w.AccountId);
        });

        modelBuilder.Entity<ApiKeyEntity>(static key =>
        {
            key.HasKey(static k => k.Id);
            key.Property(static k => k.Id).HasMaxLength(64);
            key.Property(static k => k.AccountId).HasMaxLength(64);
            key.Property(static k => k.Name).HasMaxLength(200);
            key.Property(static k => k.Scope).HasMaxLength(16);
            key.Property(static k => k.EndUserId).HasMaxLength(256);
            key.Property(static k => k.KeyHash).HasMaxLength(64);
            key.Property(static k => k.Prefix).HasMaxLength(32);
            key.Property(static k => k.LimitReset).HasMaxLength(16);
            key.HasIndex(static k => k.KeyHash).IsUnique();
            key.HasIndex(static k => new { k.AccountId, k.CreatedAtMs });
            key.HasIndex(static k => new { k.AccountId, k.EndUserId });
            key.HasOne<AccountEntity>().WithMany().HasForeignKey(static k => k.AccountId);
        });

        modelBuilder.Entity<GatewaySecretEntity>(static secret =>
        {
            secret.HasKey(static s => s.Name);
            secret.Property(static s => s.Name).HasMaxLength(64);
            secret.Property(static s => s.Value).HasMaxLength(256);
        });

        modelBuilder.Entity<LedgerEntryEntity>(static entry =>
        {
            entry.HasKey(static e => e.Id);
            entry.Property(static e => e.Id).ValueGeneratedOnAdd();
            entry.Property(static e => e.AccountId).HasMaxLength(64);
            entry.Property(static e => e.Kind).HasConversion<string>().HasMaxLength(16);
            entry.Property(static e => e.KeyId).HasMaxLength(64);
            entry.Property(static e => e.EndUserId).HasMaxLength(256);
            entry.Property(static e => e.Model).HasMaxLength(200);
            entry.Property(static e => e.Route).HasMaxLength(300);
            entry.Property(static e => e.RequestId).HasMaxLength(200);
            entry.Property(static e => e.BatchId).HasMaxLength(64);
            entry.Property(static e => e.Tool).HasMaxLength(200);
            entry.Property(static e => e.Note).HasMaxLength(1000);
            entry.Property(static e => e.ExternalReference).HasMaxLength(255);
            entry.Property(static e => e.ExternalPaymentId).HasMaxLength(255);
            entry.Property(static e => e.ExternalEventId).HasMaxLength(255);
            entry.HasIndex(static e => new { e.AccountId, e.CreatedAtMs });
            entry.HasIndex(static e => new { e.KeyId, e.CreatedAtMs });
            entry.HasIndex(static e => e.BatchId).HasFilter("\"BatchId\" IS NOT NULL");

            // Only operator and Stripe entries carry an event id: a partial index keeps the usage rows (nearly all of the
            // ledger) out of it, so the writer's insert maintains one index fewer. (A lookup by id still uses it: `= @id`
            // implies `IS NOT NULL`.)
            entry.HasIndex(static e => e.ExternalEventId).IsUnique().HasFilter("\"ExternalEventId\" IS NOT NULL");
            entry.HasOne<AccountEntity>().WithMany().HasForeignKey(static e => e.AccountId);
        });

        modelBuilder.Entity<UnappliedPaymentEntity>(static payment =>
        {
            payment.HasKey(static p => p.Id);
            payment.Property(static p => p.Id).ValueGeneratedOnAdd();
            payment.Property(static p => p.ExternalId).HasMaxLength(255);
            payment.Property(static p => p.EventId).HasMaxLength(255);
            payment.Property(static p => p.AccountId).HasMaxLength(64);
            payment.Property(static p => p.Kind).HasConversion<string>().HasMaxLength(16);
            payment.Property(static p => p.Description).HasMaxLength(1000);
            payment.Property(static p => p.CheckoutSessionId).HasMaxLength(255);
            payment.Property(static p => p.PaymentIntentId).HasMaxLength(255);
            payment.Property(static p => p.ChargeId).HasMaxLength(255);
            payment.HasIndex(static p => p.ExternalId).IsUnique();
            payment.HasIndex(static p => new { p.AccountId, p.AppliedAtMs });
        });

        ConfigureThreads(modelBuilder);
        ConfigureConnectors(modelBuilder);
        ConfigureBatches(modelBuilder);
        ConfigureSearch(modelBuilder);
    }

    private static void ConfigureSearch(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<SearchDocumentEntity>(static document =>
        {
            document.ToTable("search_documents");
            document.HasKey(static d => d.Id);
            document.Property(static d => d.Id).ValueGeneratedOnAdd();
            document.Property(static d => d.MessageId).HasMaxLength(64);
            document.Property(static d => d.ThreadId).HasMaxLength(64);
            document.Property(static d => d.AccountId).HasMaxLength(64);
            document.Property(static d => d.EndUserId).HasMaxLength(256);
            document.Property(static d => d.KeyId).HasMaxLength(64);
            document.Property(static d => d.Role).HasMaxLength(16);
            document.HasIndex(static d => d.MessageId).IsUnique();
            document.HasIndex(static d => new { d.AccountId, d.EndUserId });
            document.HasIndex(static d => d.ThreadId);
            document.HasOne<ThreadMessageEntity>().WithMany().HasForeignKey(static d => d.MessageId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<SearchQueueEntity>(static queued =>
        {
            queued.ToTable("search_queue");
            queued.HasKey(static q => q.Id);
            queued.Property(static q => q.Id).ValueGeneratedOnAdd();
            queued.Property(static q => q.MessageId).HasMaxLength(64);
        });
    }

    private static void ConfigureThreads(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<ThreadEntity>(static thread =>
        {
            thread.ToTable("threads");
            thread.HasKey(static t => t.Id);
            thread.Property(static t => t.Id).HasMaxLength(64);
            thread.Property(static t => t.AccountId).HasMaxLength(64);
            thread.Property(static t => t.EndUserId).HasMaxLength(256);
            thread.Property(static t => t.KeyId).HasMaxLength(64);
            thread.Property(static t => t.Title).HasMaxLength(512);
            thread.Property(static t => t.Model).HasMaxLength(200);
            thread.Property(static t => t.ContextStrategy).HasMaxLength(32);
            thread.Property(static t => t.SummaryRequestId).HasMaxLength(200);
            thread.HasIndex(static t => t.UpdatedAtMs);
            thread.HasIndex(static t => new { t.AccountId, t.CreatedAtMs, t.Id });
            thread.HasIndex(static t => new { t.AccountId, t.EndUserId, t.CreatedAtMs, t.Id });
            thread.HasOne<AccountEntity>().WithMany().HasForeignKey(static t => t.AccountId);
        });

        modelBuilder.Entity<ThreadMessageEntity>(static message =>
        {
            message.ToTable("thread_messages");
            message.HasKey(static m => m.Id);
            message.Property(static m => m.Id).HasMaxLength(64);
            message.Property(static m => m.ThreadId).HasMaxLength(64);
            message.Property(static m => m.Role).HasMaxLength(16);
            message.Property(static m => m.Model).HasMaxLength(200);
            message.Property(static m => m.Route).HasMaxLength(300);
            message.Property(static m => m.RequestId).HasMaxLength(200);
            message.Property(static m => m.StopReason).HasMaxLength(64);
            message.Property(static m => m.Status).HasMaxLength(16);
            message.HasIndex(static m => new { m.ThreadId, m.Seq }).IsUnique();
            message.HasOne<ThreadEntity>().WithMany().HasForeignKey(static m => m.ThreadId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<ThreadTurnRecordEntity>(static record =>
        {
            record.ToTable("thread_turn_records");
            record.HasKey(static r => r.Id);
            record.Property(static r => r.Id).ValueGeneratedOnAdd();
            record.Property(static r => r.ThreadId).HasMaxLength(64);
            record.Property(static r => r.IdempotencyKey).HasMaxLength(256);
            record.Property(static r => r.UserMessageId).HasMaxLength(64);
            record.Property(static r => r.AssistantMessageId).HasMaxLength(64);
            record.HasIndex(static r => new { r.ThreadId, r.IdempotencyKey }).IsUnique();
            record.HasOne<ThreadEntity>().WithMany().HasForeignKey(static r => r.ThreadId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
