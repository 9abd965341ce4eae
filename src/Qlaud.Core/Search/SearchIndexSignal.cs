using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.Search;

/// <summary>Wakes the search indexer when messages were queued, so it need not wait for its next poll.</summary>
internal sealed class SearchIndexSignal(IOptions<QlaudOptions> options)
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    /// <summary>Whether search is on (<c>Qlaud:Search:Enabled</c>): messages are queued for indexing only then.</summary>
    public bool Enabled { get; } = options.Value.Search.Enabled;

    /// <summary>Says that messages were queued.</summary>
    public void Notify()
    {
        if (_signal.CurrentCount == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another thread signalled first: one wake-up is enough.
            }
        }
    }

    /// <summary>Waits until <see cref="Notify"/> is called or <paramref name="timeout"/> passes.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);
}
