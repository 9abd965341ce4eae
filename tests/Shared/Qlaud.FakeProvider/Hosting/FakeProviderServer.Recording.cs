namespace Qlaud.FakeProvider;

public sealed partial class FakeProviderServer
{
    private readonly Lock _recordLock = new();
    private readonly List<RecordedRequest> _requests = [];
    private readonly List<(Func<RecordedRequest, bool> Predicate, TaskCompletionSource<RecordedRequest> Waiter)> _waiters = [];

    /// <summary>A snapshot of the requests received so far, oldest first.</summary>
    /// <remarks>Empty when <see cref="FakeProviderOptions.RecordRequests"/> is off.</remarks>
    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_recordLock)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Forgets the recorded requests (queued replies stay queued).</summary>
    public void ClearRequests()
    {
        lock (_recordLock)
        {
            _requests.Clear();
        }
    }

    /// <summary>
    /// Returns the first recorded request that matches <paramref name="predicate"/> (any request when
    /// <see langword="null"/>), already received or still to come.
    /// </summary>
    /// <param name="predicate">Which request to wait for.</param>
    /// <param name="timeout">How long to wait; 10 seconds when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="TimeoutException">No matching request arrived in time.</exception>
    /// <exception cref="InvalidOperationException">Recording is off.</exception>
    public async Task<RecordedRequest> WaitForRequestAsync(
        Func<RecordedRequest, bool>? predicate = null,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        if (!Options.RecordRequests)
        {
            throw new InvalidOperationException("Requests are not recorded: FakeProviderOptions.RecordRequests is off.");
        }

        predicate ??= static _ => true;
        var entry = (predicate, new TaskCompletionSource<RecordedRequest>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_recordLock)
        {
            foreach (var request in _requests)
            {
                if (predicate(request))
                {
                    return request;
                }
            }

            _waiters.Add(entry);
        }

        try
        {
            return await entry.Item2.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(10), Options.TimeProvider, cancellationToken);
        }
        finally
        {
            lock (_recordLock)
            {
                _waiters.Remove(entry);
            }
        }
    }

    internal void Add(RecordedRequest request)
    {
        List<TaskCompletionSource<RecordedRequest>>? matched = null;
        lock (_recordLock)
        {
            _requests.Add(request);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Predicate(request))
                {
                    (matched ??= []).Add(_waiters[i].Waiter);
                    _waiters.RemoveAt(i);
                }
            }
        }

        if (matched is not null)
        {
            foreach (var waiter in matched)
            {
                waiter.TrySetResult(request);
            }
        }
    }

    private void FailWaiters()
    {
        List<TaskCompletionSource<RecordedRequest>> waiters;
        lock (_recordLock)
        {
            waiters = [.. _waiters.Select(static w => w.Waiter)];
            _waiters.Clear();
        }

        foreach (var waiter in waiters)
        {
            waiter.TrySetException(new ObjectDisposedException(nameof(FakeProviderServer)));
        }
    }
}
