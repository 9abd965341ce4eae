using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;
using Qlaud.Storage;

namespace Qlaud.Search;

/// <summary>
/// The background indexer: loads the stored vectors, then drains the search queue in batches, woken by each persisted turn
/// and otherwise every <c>Qlaud:Search:IndexPollMilliseconds</c>. Messages queued before a stop or crash are indexed after the next start.
/// On a shared database it also reads, every poll interval, the vectors other instances indexed and the documents deleted
/// (<see cref="SearchIndex.CatchUpAsync"/>).
/// </summary>
/// <remarks>A batch that fails (the embedding model unreachable) stays queued and is retried with a growing pause (up to a
/// minute); nothing queued is dropped except messages deleted before they were indexed.</remarks>
internal sealed partial class SearchIndexer(SearchIndex index, SearchIndexSignal signal, StorageInitializer storage, IOptions<QlaudOptions> options,
    ILogger<SearchIndexer> logger) : BackgroundService
{
    private readonly SearchOptions _options = options.Value.Search;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await storage.EnsureInitializedAsync(stoppingToken).ConfigureAwait(false);
            await index.EnsureLoadedAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }

        var poll = TimeSpan.FromMilliseconds(_options.IndexPollMilliseconds);
        int failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                int taken = await index.IndexBatchAsync(_options.IndexBatchSize, stoppingToken).ConfigureAwait(false);
                failures = 0;
                await CatchUpAsync(stoppingToken).ConfigureAwait(false);
                if (taken < _options.IndexBatchSize)
                {
                    await signal.WaitAsync(poll, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                failures++;
                var pause = TimeSpan.FromMilliseconds(Math.Min(60_000, _options.IndexPollMilliseconds * Math.Pow(2, Math.Min(failures, 16))));
                Log.BatchFailed(logger, ex, failures, pause.TotalSeconds);
                try
                {
                    await Task.Delay(pause, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Reads what other instances indexed and deleted (a shared database), at most once per poll interval.</summary>
    private async Task CatchUpAsync(CancellationToken stoppingToken)
    {
        try
        {
            await index.CatchUpAsync(ifStale: true, stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            Log.CatchUpFailed(logger, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(2, LogLevel.Warning, "Reading what other instances indexed and deleted failed; retried at the next poll")]
        public static partial void CatchUpFailed(ILogger logger, Exception exception);

        [LoggerMessage(1, LogLevel.Warning, "Search indexing failed ({Failures} in a row); the batch stays queued and is retried in {Seconds} s")]
        public static partial void BatchFailed(ILogger logger, Exception exception, int failures, double seconds);
    }
}

/// <summary>Stands in for the indexer when search is turned off.</summary>
internal sealed class NoSearchIndexer : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
