using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.Threads;

/// <summary>Deletes threads idle for longer than <c>Qlaud:Threads:RetentionDays</c> (last turn or change), with their
/// messages, summaries and stored turn answers: once at start-up, then every <c>Qlaud:Threads:RetentionSweepMinutes</c>.</summary>
/// <remarks>Does nothing when <c>RetentionDays</c> is 0. A failed sweep is logged and tried again at the next interval. Ledger
/// rows are not touched: money records outlive the conversations they paid for.</remarks>
internal sealed partial class ThreadRetentionSweep(IThreadStore store, Search.SearchIndex search, IOptions<QlaudOptions> options, TimeProvider time, ILogger<ThreadRetentionSweep> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var threads = options.Value.Threads;
        if (threads.RetentionDays <= 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(threads.RetentionSweepMinutes), time);
        do
        {
            try
            {
                long cutoff = time.GetUtcNow().AddDays(-threads.RetentionDays).ToUnixTimeMilliseconds();
                var deleted = await store.DeleteThreadsIdleSinceAsync(cutoff, stoppingToken).ConfigureAwait(false);
                foreach (var (accountId, threadId) in deleted)
                {
                    // Their stored search entries went with the messages; the in-memory vectors go now.
                    await search.ForgetThreadAsync(accountId, threadId, stoppingToken).ConfigureAwait(false);
                }

                if (deleted.Count > 0)
                {
                    Log.Deleted(logger, deleted.Count, threads.RetentionDays);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.Failed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Retention: deleted {Count} threads idle for more than {Days} days")]
        public static partial void Deleted(ILogger logger, int count, int days);

        [LoggerMessage(2, LogLevel.Error, "Retention sweep of idle threads failed; it runs again at the next interval")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
