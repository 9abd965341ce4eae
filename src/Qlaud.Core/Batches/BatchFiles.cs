using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Storage;
using Qlaud.Threads;

namespace Qlaud.Batches;

/// <summary>The <c>/v1/files</c> store: metadata in the database, content in <c>Qlaud:Storage:FilesPath</c> (one file per id).</summary>
/// <remarks>A caller sees files like threads (<see cref="ThreadScope"/>): master and admin keys the account's, an end-user key
/// its end user's, another key the files it uploaded.</remarks>
internal sealed class BatchFiles
{
    private readonly IDbContextFactory<QlaudDbContext> _factory;
    private readonly StorageInitializer _storage;
    private readonly TimeProvider _time;

    public BatchFiles(IDbContextFactory<QlaudDbContext> factory, StorageInitializer storage, TimeProvider time, IOptions<QlaudOptions> options)
    {
        _factory = factory;
        _storage = storage;
        _time = time;
        Root = ResolveRoot(options.Value.Storage);
        MaxFileBytes = options.Value.Batches.MaxFileBytes;
    }

    /// <summary>The folder holding the files' content.</summary>
    public string Root { get; }

    /// <summary><c>Qlaud:Batches:MaxFileBytes</c>.</summary>
    public long MaxFileBytes { get; }

    /// <summary>The folder of <paramref name="storage"/>'s files: <c>FilesPath</c>, else <c>qlaud-files</c> beside the SQLite
    /// database (in the working directory on PostgreSQL or for an in-memory database).</summary>
    public static string ResolveRoot(StorageOptions storage)
    {
        if (!string.IsNullOrWhiteSpace(storage.FilesPath))
        {
            return Path.GetFullPath(storage.FilesPath);
        }

        string? dataSource = string.Equals(storage.Provider, StorageOptions.Postgres, StringComparison.OrdinalIgnoreCase) ? null : SqliteDataSource(storage.ConnectionString);
        string folder = string.IsNullOrEmpty(dataSource) || dataSource.StartsWith(':') || dataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase)
            ? Directory.GetCurrentDirectory()
            : Path.GetDirectoryName(Path.GetFullPath(dataSource)) ?? Directory.GetCurrentDirectory();
        return Path.Combine(folder, "qlaud-files");
    }

    /// <summary>The database file a SQLite connection string names; null when it is not one. A method of its own, so the
    /// SQLite assembly is loaded only when it runs (never on PostgreSQL).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string? SqliteDataSource(string connectionString)
    {
        try
        {
            return new SqliteConnectionStringBuilder(connectionString).DataSource;
        }
        catch (ArgumentException)
        {
            return null; // not a SQLite connection string: the working directory
        }
    }

    /// <summary>Stores an upload; null when it is larger than <see cref="MaxFileBytes"/> (nothing is kept).</summary>
    public async Task<BatchFileEntity?> SaveAsync(QlaudCaller caller, string filename, string purpose, Stream content, CancellationToken cancellationToken)
    {
        var file = NewEntity(caller.AccountId, caller.KeyId, caller.EndUserId, filename, purpose);
        long bytes = await WriteContentAsync(file.Id, content, MaxFileBytes, cancellationToken).ConfigureAwait(false);
        if (bytes < 0)
        {
            return null;
        }

        file.Bytes = bytes;
        await InsertAsync(file, cancellationToken).ConfigureAwait(false);
        return file;
    }

    /// <summary>Stores a file Qlaud generated (a batch's results) for the batch's owner.</summary>
    public async Task<BatchFileEntity> SaveGeneratedAsync(BatchEntity owner, string filename, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var file = NewEntity(owner.AccountId, owner.KeyId, owner.EndUserId, filename, "batch_output");
        Directory.CreateDirectory(Root);
        await File.WriteAllBytesAsync(PathOf(file.Id), content.ToArray(), cancellationToken).ConfigureAwait(false);
        file.Bytes = content.Length;
        await InsertAsync(file, cancellationToken).ConfigureAwait(false);
        return file;
    }

    public async Task<BatchFileEntity?> FindAsync(ThreadScope scope, string id, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await Visible(db.BatchFiles.AsNoTracking(), scope).FirstOrDefaultAsync(f => f.Id == id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The visible files, newest first (ids sort by creation); null when <c>after</c> names no visible file.</summary>
    public async Task<QlaudPage<BatchFileEntity>?> ListAsync(ThreadScope scope, string? purpose, PageOptions page, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var query = Visible(db.BatchFiles.AsNoTracking(), scope);
        if (purpose is not null)
        {
            query = query.Where(f => f.Purpose == purpose);
        }

        if (page.After is { } after)
        {
            if (!await query.AnyAsync(f => f.Id == after, cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            query = page.Order == ListOrder.Ascending ? query.Where(f => string.Compare(f.Id, after) > 0) : query.Where(f => string.Compare(f.Id, after) < 0);
        }

        query = page.Order == ListOrder.Ascending ? query.OrderBy(static f => f.Id) : query.OrderByDescending(static f => f.Id);
        var rows = await query.Take(page.Limit + 1).ToListAsync(cancellationToken).ConfigureAwait(false);
        bool more = rows.Count > page.Limit;
        if (more)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        return new QlaudPage<BatchFileEntity>(rows, more, rows.Count > 0 ? rows[0].Id : null, rows.Count > 0 ? rows[^1].Id : null);
    }

    /// <summary>Opens a file's content for reading.</summary>
    public Stream OpenRead(string id) => new FileStream(PathOf(id), FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, useAsync: true);

    public async Task<byte[]> ReadAllAsync(string id, CancellationToken cancellationToken)
        => await File.ReadAllBytesAsync(PathOf(id), cancellationToken).ConfigureAwait(false);

    /// <summary>Deletes a visible file's metadata and content; false when it is not visible.</summary>
    public async Task<bool> DeleteAsync(ThreadScope scope, string id, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        int deleted = await Visible(db.BatchFiles, scope).Where(f => f.Id == id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        if (deleted == 0)
        {
            return false;
        }

        File.Delete(PathOf(id));
        return true;
    }

    /// <summary>Deletes the content of files whose records are already gone.</summary>
    public void DeleteContent(IEnumerable<string> ids)
    {
        foreach (string id in ids)
        {
            File.Delete(PathOf(id));
        }
    }

    private BatchFileEntity NewEntity(string accountId, string? keyId, string? endUserId, string filename, string purpose) => new()
    {
        Id = ThreadIds.New("file-", _time),
        AccountId = accountId,
        KeyId = keyId,
        EndUserId = endUserId,
        Filename = filename.Length > 512 ? filename[..512] : filename,
        Purpose = purpose,
        CreatedAtMs = _time.GetUtcNow().ToUnixTimeMilliseconds(),
    };

    /// <summary>Copies <paramref name="content"/> to the file of <paramref name="id"/>; -1 (and nothing kept) past <paramref name="maxBytes"/>.</summary>
    private async Task<long> WriteContentAsync(string id, Stream content, long maxBytes, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Root);
        string path = PathOf(id);
        string partial = path + ".part";
        long total = 0;
        try
        {
            await using (var target = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                byte[] buffer = new byte[64 * 1024];
                int read;
                while ((read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    total += read;
                    if (total > maxBytes)
                    {
                        break;
                    }

                    await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }
            }

            if (total > maxBytes)
            {
                File.Delete(partial);
                return -1;
            }

            File.Move(partial, path);
            return total;
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
    }

    private async Task InsertAsync(BatchFileEntity file, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        db.BatchFiles.Add(file);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    private string PathOf(string id) => Path.Combine(Root, id);

    private async Task<QlaudDbContext> OpenAsync(CancellationToken cancellationToken)
    {
        await _storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        return await _factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
    }

    private static IQueryable<BatchFileEntity> Visible(IQueryable<BatchFileEntity> files, ThreadScope scope)
    {
        var query = files.Where(f => f.AccountId == scope.AccountId);
        if (scope.EndUserId is { } endUser)
        {
            query = query.Where(f => f.EndUserId == endUser);
        }

        if (scope.KeyId is { } keyId)
        {
            query = query.Where(f => f.KeyId == keyId);
        }

        return query;
    }
}
