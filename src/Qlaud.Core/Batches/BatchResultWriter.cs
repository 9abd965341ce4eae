using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Qlaud.Storage;

namespace Qlaud.Batches;

/// <summary>Records batch results with group commit: results that finish while a commit is under way are written together in
/// the next transaction, so a running batch takes the database's write lock once per group rather than once per request
/// (interactive requests' ledger writes wait less behind it). A result counts as recorded when its commit completed.</summary>
internal sealed class BatchResultWriter(IDbContextFactory<QlaudDbContext> factory, StorageInitializer storage)
{
    private const int MaxGroup = 256;

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _gate = new();
    private Task? _loop;

    /// <summary>Records a request's result unless it already has one; completes when committed.</summary>
    public Task<bool> SaveAsync(long requestRowId, BatchRequestState state, int? status, byte[]? body, string? requestId, long nowMs)
    {
        EnsureRunning();
        var pending = new Pending(requestRowId, state.ToString(), status, body, requestId, nowMs, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        _queue.Writer.TryWrite(pending);
        return pending.Done.Task;
    }

    private void EnsureRunning()
    {
        if (_loop is null)
        {
            lock (_gate)
            {
                _loop ??= Task.Run(LoopAsync);
            }
        }
    }

    private async Task LoopAsync()
    {
        var group = new List<Pending>(MaxGroup);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            while (group.Count < MaxGroup && _queue.Reader.TryRead(out var next))
            {
                group.Add(next);
            }

            try
            {
                var written = await WriteAsync(group).ConfigureAwait(false);
                for (int i = 0; i < group.Count; i++)
                {
                    group[i].Done.TrySetResult(written[i]);
                }
            }
            catch (Exception ex)
            {
                foreach (var pending in group)
                {
                    pending.Done.TrySetException(ex);
                }
            }
        }
    }

    private async Task<bool[]> WriteAsync(List<Pending> group)
    {
        await storage.EnsureInitializedAsync().ConfigureAwait(false);
        var db = await factory.CreateDbContextAsync().ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var transaction = await db.Database.BeginTransactionAsync().ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                string pendingState = nameof(BatchRequestState.Pending);
                var written = new bool[group.Count];
                for (int i = 0; i < group.Count; i++)
                {
                    var p = group[i];
                    written[i] = await db.BatchRequests.Where(r => r.Id == p.RowId && r.State == pendingState)
                        .ExecuteUpdateAsync(s => s.SetProperty(static r => r.State, p.State).SetProperty(static r => r.StatusCode, p.Status)
                            .SetProperty(static r => r.ResponseBody, p.Body).SetProperty(static r => r.RequestId, p.RequestId).SetProperty(static r => r.FinishedAtMs, p.NowMs))
                        .ConfigureAwait(false) == 1;
                }

                await transaction.CommitAsync().ConfigureAwait(false);
                return written;
            }
        }
    }

    private sealed record Pending(long RowId, string State, int? Status, byte[]? Body, string? RequestId, long NowMs, TaskCompletionSource<bool> Done);
}
