using Microsoft.EntityFrameworkCore;

namespace Qlaud.Storage;

internal sealed partial class QlaudDbContext
{
    public DbSet<BatchFileEntity> BatchFiles => Set<BatchFileEntity>();

    public DbSet<BatchEntity> Batches => Set<BatchEntity>();

    public DbSet<BatchRequestEntity> BatchRequests => Set<BatchRequestEntity>();

    private static void ConfigureBatches(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<BatchFileEntity>(static file =>
        {
            file.ToTable("batch_files");
            file.HasKey(static f => f.Id);
            file.Property(static f => f.Id).HasMaxLength(64);
            file.Property(static f => f.AccountId).HasMaxLength(64);
            file.Property(static f => f.EndUserId).HasMaxLength(256);
            file.Property(static f => f.KeyId).HasMaxLength(64);
            file.Property(static f => f.Filename).HasMaxLength(512);
            file.Property(static f => f.Purpose).HasMaxLength(32);
            file.HasIndex(static f => new { f.AccountId, f.Id });
            file.HasOne<AccountEntity>().WithMany().HasForeignKey(static f => f.AccountId);
        });

        modelBuilder.Entity<BatchEntity>(static batch =>
        {
            batch.ToTable("batches");
            batch.HasKey(static b => b.Id);
            batch.Property(static b => b.Id).HasMaxLength(64);
            batch.Property(static b => b.Surface).HasMaxLength(16);
            batch.Property(static b => b.Endpoint).HasMaxLength(64);
            batch.Property(static b => b.AccountId).HasMaxLength(64);
            batch.Property(static b => b.KeyId).HasMaxLength(64);
            batch.Property(static b => b.EndUserId).HasMaxLength(256);
            batch.Property(static b => b.Status).HasMaxLength(16).IsConcurrencyToken();
            batch.Property(static b => b.InputFileId).HasMaxLength(64);
            batch.Property(static b => b.OutputFileId).HasMaxLength(64);
            batch.Property(static b => b.ErrorFileId).HasMaxLength(64);
            batch.Property(static b => b.CompletionWindow).HasMaxLength(16);
            batch.Property(static b => b.NativeProvider).HasMaxLength(64);
            batch.Property(static b => b.NativeBatchId).HasMaxLength(128);
            batch.Property(static b => b.NativeSubmitToken).HasMaxLength(128);
            batch.HasIndex(static b => new { b.AccountId, b.Surface, b.Id });
            batch.HasIndex(static b => b.Status);
            batch.HasOne<AccountEntity>().WithMany().HasForeignKey(static b => b.AccountId);
        });

        modelBuilder.Entity<BatchRequestEntity>(static request =>
        {
            request.ToTable("batch_requests");
            request.HasKey(static r => r.Id);
            request.Property(static r => r.Id).ValueGeneratedOnAdd();
            request.Property(static r => r.BatchId).HasMaxLength(64);
            request.Property(static r => r.CustomId).HasMaxLength(512);
            request.Property(static r => r.State).HasMaxLength(16);
            request.Property(static r => r.RequestId).HasMaxLength(200);
            request.HasIndex(static r => new { r.BatchId, r.Index }).IsUnique();
            request.HasIndex(static r => new { r.BatchId, r.State });
            request.HasOne<BatchEntity>().WithMany().HasForeignKey(static r => r.BatchId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
