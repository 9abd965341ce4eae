using Microsoft.EntityFrameworkCore;
using Qlaud.Storage;

namespace Qlaud.Threads;

/// <summary>The EF Core thread store (SQLite by default), provider-neutral LINQ only.</summary>
internal sealed class EfThreadStore(IDbContextFactory<QlaudDbContext> factory, StorageInitializer storage, Search.SearchIndexSignal search) : IThreadStore
{
    public async Task InsertThreadAsync(ThreadEntity thread, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        db.Threads.Add(thread);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<ThreadEntity?> FindThreadAsync(ThreadScope scope, string threadId, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await Visible(db.Threads.AsNoTracking(), scope).FirstOrDefaultAsync(t => t.Id == threadId, cancellationToken).ConfigureAwait(false);
    }

    public async Task<StorePage<ThreadEntity>?> ListThreadsAsync(ThreadScope scope, PageOptions page, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var visible = Visible(db.Threads.AsNoTracking(), scope);
        (long Ms, string Id)? after = null, before = null;
        if (page.After is { } afterId)
        {
            var t = await visible.Where(t => t.Id == afterId).Select(static t => new { t.CreatedAtMs, t.Id }).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            if (t is null)
            {
                return null;
            }

            after = (t.CreatedAtMs, t.Id);
        }

        if (page.Before is { } beforeId)
        {
            var t = await visible.Where(t => t.Id == beforeId).Select(static t => new { t.CreatedAtMs, t.Id }).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            if (t is null)
            {
                return null;
            }

            before = (t.CreatedAtMs, t.Id);
        }

        // "after" and "before" are in the listing order; translate them to bounds on (created, id).
        bool ascending = page.Order == ListOrder.Ascending;
        var lower = ascending ? after : before;
        var upper = ascending ? before : after;
        var query = visible;
        if (lower is { } lo)
        {
            long loMs = lo.Ms;
            string loId = lo.Id;
            query = query.Where(t => t.CreatedAtMs > loMs || (t.CreatedAtMs == loMs && string.Compare(t.Id, loId) > 0));
        }

        if (upper is { } up)
        {
            long upMs = up.Ms;
            string upId = up.Id;
            query = query.Where(t => t.CreatedAtMs < upMs || (t.CreatedAtMs == upMs && string.Compare(t.Id, upId) < 0));
        }

        // Paging with only "before" reads backwards from the cursor, then turns the page around.
        bool backwards = page.Before is not null && page.After is null;
        bool readAscending = ascending != backwards;
        var ordered = readAscending
            ? query.OrderBy(static t => t.CreatedAtMs).ThenBy(static t => t.Id)
            : query.OrderByDescending(static t => t.CreatedAtMs).ThenByDescending(static t => t.Id);
        var items = await ordered.Take(page.Limit + 1).ToListAsync(cancellationToken).ConfigureAwait(false);
        return Page(items, page.Limit, backwards);
    }

    public async Task<ThreadEntity?> UpdateThreadAsync(ThreadScope scope, string threadId, Action<ThreadEntity> change, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var thread = await Visible(db.Threads, scope).FirstOrDefaultAsync(t => t.Id == threadId, cancellationToken).ConfigureAwait(false);
        if (thread is null)
        {
            return null;
        }

        change(thread);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return thread;
    }

    public async Task<bool> DeleteThreadAsync(ThreadScope scope, string threadId, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        if (!await Visible(db.Threads, scope).AnyAsync(t => t.Id == threadId, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        await db.ThreadTurnRecords.Where(r => r.ThreadId == threadId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        await db.ThreadMessages.Where(m => m.ThreadId == threadId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        await db.Threads.Where(t => t.Id == threadId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<List<ContextMessage>> LoadHistoryAsync(string threadId, long afterSeq, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await db.ThreadMessages.AsNoTracking().Where(m => m.ThreadId == threadId && m.Seq > afterSeq).OrderBy(static m => m.Seq)
            .Select(static m => new ContextMessage(m.Role, m.ContentJson, m.ContextTokens, m.Seq)).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<StorePage<ThreadMessageEntity>?> ListMessagesAsync(string threadId, PageOptions page, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var messages = db.ThreadMessages.AsNoTracking().Where(m => m.ThreadId == threadId);
        long? after = null, before = null;
        if (page.After is { } afterId)
        {
            after = await messages.Where(m => m.Id == afterId).Select(static m => (long?)m.Seq).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            if (after is null)
            {
                return null;
            }
        }

        if (page.Before is { } beforeId)
        {
            before = await messages.Where(m => m.Id == beforeId).Select(static m => (long?)m.Seq).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            if (before is null)
            {
                return null;
            }
        }

        bool ascending = page.Order == ListOrder.Ascending;
        long? lower = ascending ? after : before;
        long? upper = ascending ? before : after;
        if (lower is { } lo)
        {
            messages = messages.Where(m => m.Seq > lo);
        }

        if (upper is { } up)
        {
            messages = messages.Where(m => m.Seq < up);
        }

        bool backwards = page.Before is not null && page.After is null;
        var ordered = ascending != backwards ? messages.OrderBy(static m => m.Seq) : messages.OrderByDescending(static m => m.Seq);
        var items = await ordered.Take(page.Limit + 1).ToListAsync(cancellationToken).ConfigureAwait(false);
        return Page(items, page.Limit, backwards);
    }

    public async Task<ThreadTurnRecordEntity?> FindTurnRecordAsync(string threadId, string idempotencyKey, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await db.ThreadTurnRecords.AsNoTracking().FirstOrDefaultAsync(r => r.ThreadId == threadId && r.IdempotencyKey == idempotencyKey, cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> AppendTurnAsync(string threadId, ThreadMessageEntity user, ThreadMessageEntity reply, ThreadTurnRecordEntity? record, long nowMs, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var thread = await db.Threads.FirstOrDefaultAsync(t => t.Id == threadId, cancellationToken).ConfigureAwait(false);
        if (thread is null)
        {
            return false;
        }

        user.Seq = thread.NextSeq;
        reply.Seq = thread.NextSeq + 1;
        thread.NextSeq += 2;
        thread.UpdatedAtMs = nowMs;
        db.ThreadMessages.Add(user);
        db.ThreadMessages.Add(reply);
        if (record is not null)
        {
            db.ThreadTurnRecords.Add(record);
        }

        if (search.Enabled)
        {
            // Queued for the search indexer in the turn's own transaction: a persisted message is always indexed eventually.
            db.SearchQueue.Add(new SearchQueueEntity { MessageId = user.Id, EnqueuedAtMs = nowMs });
            db.SearchQueue.Add(new SearchQueueEntity { MessageId = reply.Id, EnqueuedAtMs = nowMs });
        }

        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false); // one transaction
        search.Notify();
        return true;
    }

    public async Task<bool> AppendMessagesAsync(string threadId, IReadOnlyList<ThreadMessageEntity> messages, long nowMs, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var thread = await db.Threads.FirstOrDefaultAsync(t => t.Id == threadId, cancellationToken).ConfigureAwait(false);
        if (thread is null)
        {
            return false;
        }

        foreach (var message in messages)
        {
            message.Seq = thread.NextSeq++;
            db.ThreadMessages.Add(message);
        }

        thread.UpdatedAtMs = nowMs;
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false); // one transaction
        return true;
    }

    public async Task<bool> SaveSummaryAsync(string threadId, ThreadSummaryUpdate summary, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await db.Threads.Where(t => t.Id == threadId).ExecuteUpdateAsync(s => s
            .SetProperty(static t => t.Summary, summary.Text)
            .SetProperty(static t => t.SummaryThroughSeq, summary.ThroughSeq)
            .SetProperty(static t => t.SummarizedMessages, summary.SummarizedMessages)
            .SetProperty(static t => t.SummaryRequestId, summary.RequestId)
            .SetProperty(static t => t.SummaryUpdatedAtMs, summary.NowMs), cancellationToken).ConfigureAwait(false) == 1;
    }

    public async Task<IReadOnlyList<(string AccountId, string ThreadId)>> DeleteThreadsIdleSinceAsync(long cutoffMs, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var found = await db.Threads.Where(t => t.UpdatedAtMs < cutoffMs).Select(static t => new { t.AccountId, t.Id }).ToListAsync(cancellationToken).ConfigureAwait(false);
        var ids = found.ConvertAll(static t => t.Id);
        await db.ThreadTurnRecords.Where(r => ids.Contains(r.ThreadId)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        await db.ThreadMessages.Where(m => ids.Contains(m.ThreadId)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        await db.Threads.Where(t => ids.Contains(t.Id)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return found.ConvertAll(static t => (t.AccountId, t.Id));
    }

    public async Task<EndUserErasure> EraseEndUserAsync(string accountId, string endUserId, CancellationToken cancellationToken)
    {
        await using var db = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var threads = db.Threads.Where(t => t.AccountId == accountId && t.EndUserId == endUserId);
        await db.ThreadTurnRecords.Where(r => threads.Any(t => t.Id == r.ThreadId)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        int messages = await db.ThreadMessages.Where(m => threads.Any(t => t.Id == m.ThreadId)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        int deleted = await threads.ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        int ledger = await db.LedgerEntries.Where(e => e.AccountId == accountId && e.EndUserId == endUserId)
            .ExecuteUpdateAsync(static s => s.SetProperty(static e => e.EndUserId, (string?)null), cancellationToken).ConfigureAwait(false);

        // Connector connections go with their credentials and pending connect links.
        await db.ConnectTokens.Where(t => t.AccountId == accountId && t.EndUserId == endUserId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        int connections = await db.Connections.Where(c => c.AccountId == accountId && c.EndUserId == endUserId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);

        // Webhook tools registered for this end user only (their URLs and signing secrets).
        int tools = await db.WebhookTools.Where(t => t.AccountId == accountId && t.EndUserId == endUserId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new EndUserErasure(endUserId, deleted, messages, ledger) { ConnectionsDeleted = connections, WebhookToolsDeleted = tools };
    }

    private static IQueryable<ThreadEntity> Visible(IQueryable<ThreadEntity> threads, ThreadScope scope)
    {
        string account = scope.AccountId;
        threads = threads.Where(t => t.AccountId == account);
        if (scope.EndUserId is { } endUser)
        {
            threads = threads.Where(t => t.EndUserId == endUser);
        }

        if (scope.KeyId is { } key)
        {
            threads = threads.Where(t => t.KeyId == key);
        }

        return threads;
    }

    private static StorePage<T> Page<T>(List<T> items, int limit, bool backwards)
    {
        bool more = items.Count > limit;
        if (more)
        {
            items.RemoveAt(items.Count - 1);
        }

        if (backwards)
        {
            items.Reverse();
        }

        return new StorePage<T>(items, more);
    }

    private async Task<QlaudDbContext> OpenAsync(CancellationToken cancellationToken)
    {
        await storage.EnsureInitializedAsync(cancellationToken).ConfigureAwait(false);
        return await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
    }
}
