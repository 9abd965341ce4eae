namespace Qlaud.Providers;

/// <summary>
/// The timeouts of one upstream attempt on the injected clock: armed with the first-byte timeout while waiting for the
/// answer to start, then re-armed with the idle timeout before every read of the body. Cancels with the caller too.
/// </summary>
/// <remarks>
/// One <see cref="CancellationTokenSource"/> built on the <see cref="TimeProvider"/>, so a fake clock drives the timeouts in
/// tests; re-arming only moves its timer. <see cref="TimedOut"/> tells a timeout from the caller going away.
/// </remarks>
internal sealed class UpstreamDeadline : IDisposable
{
    private readonly CancellationTokenSource _source;
    private readonly CancellationToken _caller;
    private CancellationTokenRegistration _link;

    public UpstreamDeadline(TimeProvider time, CancellationToken caller)
    {
        _source = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        _caller = caller;
        _link = caller.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _source);
    }

    /// <summary>Cancelled when the armed time passes or the caller cancels.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>Whether the deadline passed (and not the caller's cancellation).</summary>
    public bool TimedOut => _source.IsCancellationRequested && !_caller.IsCancellationRequested;

    /// <summary>Whether the caller cancelled.</summary>
    public bool CallerCancelled => _caller.IsCancellationRequested;

    /// <summary>Restarts the countdown at <paramref name="timeout"/>.</summary>
    public void Arm(TimeSpan timeout)
    {
        if (!_source.IsCancellationRequested)
        {
            _source.CancelAfter(timeout);
        }
    }

    public void Dispose()
    {
        _link.Dispose(); // waits for a running callback, so the source is not cancelled after it is disposed
        _source.Dispose();
    }
}
