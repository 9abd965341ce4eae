using Microsoft.EntityFrameworkCore;
using Qlaud.Storage;
using Qlaud.Threads;

namespace Qlaud.Batches;

/// <summary>The batches' tables: batches, their requests and results. Every state change is a conditional update, so a request's
/// result is written once and a batch's status only moves forward.</summary>
internal sealed class BatchStore(IDbContextFactory<QlaudDbContext> factory, StorageInitializer storage)
{
    private static readonly string Pending = nameof(BatchRequestState.Pending);

    /// <summary>The statuses the worker still has work for.</summary>
    private static readonly string[] Active =
        [nameof(QlaudBatchStatus.Validating), nameof(QlaudBatchStatus.InProgress), nameof(QlaudBatchStatus.Finalizing), nameof(QlaudBatchStatus.Cancelling)];

    public async Task InsertAsync(BatchEntity batch, IReadOnlyList<BatchRequestInput> requests, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        db.ChangeTracker.AutoDetectChangesEnabled = false;
        db.Batches.Add(batch);
        for (int i = 0; i < requests.Count; i++)
        {
            db.BatchRequests.Add(new BatchRequestEntity
            {
                BatchId = batch.Id,
                Index = i,
                CustomId = requests[i].CustomId,
                Body = requests[i].Body.ToArray(),
                State = Pending,
            });
        }

        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<BatchEntity?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await db.Batches.AsNoTracking().FirstOrDefaultAsync(b => b.Id == id, cancellationToken).ConfigureAwait(false);
    }

    public async Task<BatchEntity?> FindAsync(ThreadScope scope, string id, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await Visible(db.Batches.AsNoTracking(), scope).FirstOrDefaultAsync(b => b.Id == id, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string?> StatusAsync(string id, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await db.Batches.Where(b => b.Id == id).Select(static b => b.Status).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The visible batches of one surface, newest first; null when the cursor names no visible batch.</summary>
    public async Task<(List<BatchEntity> Rows, bool HasMore)?> ListAsync(ThreadScope scope, string surface, PageOptions page, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var query = Visible(db.Batches.AsNoTracking(), scope).Where(b => b.Surface == surface);
        foreach (string? cursor in (string?[])[page.After, page.Before])
        {
            if (cursor is not null && !await query.AnyAsync(b => b.Id == cursor, cancellationToken).ConfigureAwait(false))
            {
                return null;
            }
        }

        // Newest first: "after" pages towards older batches, "before" towards newer ones.
        if (page.After is { } after)
        {
            query = query.Where(b => string.Compare(b.Id, after) < 0);
        }

        if (page.Before is { } before)
        {
            query = query.Where(b => string.Compare(b.Id, before) > 0);
        }

        var rows = page.Before is not null && page.After is null
            ? (await query.OrderBy(static b => b.Id).Take(page.Limit + 1).ToListAsync(cancellationToken).ConfigureAwait(false))
            : await query.OrderByDescending(static b => b.Id).Take(page.Limit + 1).ToListAsync(cancellationToken).ConfigureAwait(false);
        bool more = rows.Count > page.Limit;
        if (more)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        if (page.Before is not null && page.After is null)
        {
            rows.Reverse();
        }

        return (rows, more);
    }

    /// <summary>The requests of <paramref name="batchId"/> counted by state.</summary>
    public async Task<QlaudBatchRequestCounts> CountsAsync(string batchId, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var groups = await db.BatchRequests.Where(r => r.BatchId == batchId).GroupBy(static r => r.State)
            .Select(static g => new { g.Key, Count = g.Count() }).ToListAsync(cancellationToken).ConfigureAwait(false);
        int Count(BatchRequestState state) => groups.FirstOrDefault(g => g.Key == state.ToString())?.Count ?? 0;
        int total = groups.Sum(static g => g.Count);
        return new QlaudBatchRequestCounts(total, Count(BatchRequestState.Pending), Count(BatchRequestState.Succeeded), Count(BatchRequestState.Errored),
            Count(BatchRequestState.Canceled), Count(BatchRequestState.Expired));
    }

    public async Task<List<string>> ActiveIdsAsync(CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await db.Batches.Where(b => Active.Contains(b.Status)).OrderBy(static b => b.Id).Select(static b => b.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Pending requests after position <paramref name="afterIndex"/>, in order.</summary>
    public async Task<List<BatchRequestEntity>> PendingAsync(string batchId, int afterIndex, int take, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await db.BatchRequests.AsNoTracking().Where(r => r.BatchId == batchId && r.State == Pending && r.Index > afterIndex)
            .OrderBy(static r => r.Index).Take(take).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Finished requests (any state but pending) in order, their bodies included.</summary>
    public async Task<List<BatchRequestEntity>> FinishedAsync(string batchId, int afterIndex, int take, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await db.BatchRequests.AsNoTracking().Where(r => r.BatchId == batchId && r.State != Pending && r.Index > afterIndex)
            .OrderBy(static r => r.Index).Take(take).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records a request's result unless it already has one.</summary>
    public async Task<bool> SaveResultAsync(long requestRowId, BatchRequestState state, int? status, byte[]? body, string? requestId, long nowMs, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        string name = state.ToString();
        int updated = await db.BatchRequests.Where(r => r.Id == requestRowId && r.State == Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(static r => r.State, name).SetProperty(static r => r.StatusCode, status)
                .SetProperty(static r => r.ResponseBody, body).SetProperty(static r => r.RequestId, requestId).SetProperty(static r => r.FinishedAtMs, nowMs), cancellationToken)
            .ConfigureAwait(false);
        return updated == 1;
    }

    /// <summary>Gives every pending request of the batch the final <paramref name="state"/> (canceled or expired).</summary>
    public async Task<int> EndPendingAsync(string batchId, BatchRequestState state, long nowMs, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        string name = state.ToString();
        return await db.BatchRequests.Where(r => r.BatchId == batchId && r.State == Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(static r => r.State, name).SetProperty(static r => r.FinishedAtMs, nowMs), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Moves the batch to <paramref name="to"/> when its status is one of <paramref name="from"/>; <paramref name="change"/> sets the timestamps.</summary>
    public async Task<bool> TransitionAsync(string id, QlaudBatchStatus[] from, QlaudBatchStatus to, Action<BatchEntity> change, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var names = from.Select(static s => s.ToString()).ToArray();
        var batch = await db.Batches.FirstOrDefaultAsync(b => b.Id == id && names.Contains(b.Status), cancellationToken).ConfigureAwait(false);
        if (batch is null)
        {
            return false;
        }

        // Status is a concurrency token: the update is conditional on the status read, so a concurrent change (a cancel while
        // the worker finalizes) wins or loses whole.
        batch.Status = to.ToString();
        change(batch);
        try
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (DbUpdateConcurrencyException)
        {
            return false;
        }
    }

    /// <summary>Records that the batch was submitted to <paramref name="provider"/>'s batch API as <paramref name="nativeId"/>.</summary>
    public async Task SetNativeAsync(string id, string provider, string nativeId, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await db.Batches.Where(b => b.Id == id).ExecuteUpdateAsync(s => s.SetProperty(static b => b.NativeProvider, provider).SetProperty(static b => b.NativeBatchId, nativeId),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes the submission marker before the batch is submitted to <paramref name="provider"/>'s batch API.</summary>
    public async Task SetNativeSubmittingAsync(string id, string provider, string token, long nowMs, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await db.Batches.Where(b => b.Id == id).ExecuteUpdateAsync(s => s.SetProperty(static b => b.NativeProvider, provider).SetProperty(static b => b.NativeSubmitToken, token)
            .SetProperty(static b => b.NativeSubmittingAtMs, nowMs), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes the submission marker of a batch the provider did not take (Qlaud runs its requests itself).</summary>
    public async Task ClearNativeSubmittingAsync(string id, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await db.Batches.Where(b => b.Id == id && b.NativeBatchId == null).ExecuteUpdateAsync(static s => s.SetProperty(static b => b.NativeProvider, (string?)null)
            .SetProperty(static b => b.NativeSubmitToken, (string?)null).SetProperty(static b => b.NativeSubmittingAtMs, (long?)null), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The provider batch ids already recorded for Qlaud batches on <paramref name="provider"/> among <paramref name="nativeIds"/>.</summary>
    public async Task<List<string>> KnownNativeIdsAsync(string provider, IReadOnlyCollection<string> nativeIds, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await db.Batches.Where(b => b.NativeProvider == provider && b.NativeBatchId != null && nativeIds.Contains(b.NativeBatchId))
            .Select(static b => b.NativeBatchId!).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Batches still in flight at a provider's batch API (submitted, or marked as being submitted), for their reservations
    /// after a restart.</summary>
    public async Task<List<BatchEntity>> InFlightNativeAsync(CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await db.Batches.AsNoTracking().Where(b => Active.Contains(b.Status) && (b.NativeBatchId != null || b.NativeSubmitToken != null))
            .OrderBy(static b => b.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task SetNativeCancelSentAsync(string id, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await db.Batches.Where(b => b.Id == id).ExecuteUpdateAsync(static s => s.SetProperty(static b => b.NativeCancelSent, true), cancellationToken).ConfigureAwait(false);
    }

    public async Task AddUnpricedAsync(string id, int count, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await db.Batches.Where(b => b.Id == id).ExecuteUpdateAsync(s => s.SetProperty(static b => b.UnpricedRequests, b => b.UnpricedRequests + count), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>Deletes an end user's batches (with their requests and results) and file records; returns how many batches and
    /// which files, whose content the caller deletes.</summary>
    public async Task<(int Batches, List<string> FileIds)> EraseEndUserAsync(string accountId, string endUserId, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var batches = db.Batches.Where(b => b.AccountId == accountId && b.EndUserId == endUserId);
        await db.BatchRequests.Where(r => batches.Any(b => b.Id == r.BatchId)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        int deleted = await batches.ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        var files = db.BatchFiles.Where(f => f.AccountId == accountId && f.EndUserId == endUserId);
        var fileIds = await files.Select(static f => f.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        await files.ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (deleted, fileIds);
    }

    /// <summary>Deletes a batch and its requests.</summary>
    public async Task DeleteAsync(string id, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await db.BatchRequests.Where(r => r.BatchId == id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        await db.Batches.Where(b => b.Id == id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<QlaudDbContext> OpenAsync(CancellationToken cancellationToken)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        return await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
    }

    private static IQueryable<BatchEntity> Visible(IQueryable<BatchEntity> batches, ThreadScope scope)
    {
        var query = batches.Where(b => b.AccountId == scope.AccountId);
        if (scope.EndUserId is { } endUser)
        {
            query = query.Where(b => b.EndUserId == endUser);
        }

        if (scope.KeyId is { } keyId)
        {
            query = query.Where(b => b.KeyId == keyId);
        }

        return query;
    }
}
