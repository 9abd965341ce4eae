using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.AspNetCore.Authentication;

/// <summary>Counts failed authentications per client address in one-minute windows (<c>Qlaud:Limits:FailedAuthPerMinute</c>).</summary>
/// <remarks>Only failures are recorded, so an address that never fails costs one dictionary lookup per request. The table holds
/// at most <see cref="MaxAddresses"/> addresses; when full, windows that have ended are dropped, and if none has, it starts over.</remarks>
internal sealed class FailedAuthenticationLimiter(IOptions<QlaudOptions> options, TimeProvider time)
{
    public const int MaxAddresses = 100_000;
    private const long WindowMs = 60_000;

    private readonly ConcurrentDictionary<IPAddress, Window> _windows = new();
    private readonly int _limit = options.Value.Limits.FailedAuthPerMinute;

    /// <summary>Whether <paramref name="address"/> used up its failures in the current window, and how long until it ends.</summary>
    public bool IsBlocked(IPAddress? address, out TimeSpan retryAfter)
    {
        retryAfter = default;
        if (_limit == 0 || address is null || _windows.IsEmpty || !_windows.TryGetValue(address, out var window))
        {
            return false;
        }

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (window)
        {
            if (now - window.StartMs >= WindowMs || window.Failures < _limit)
            {
                return false;
            }

            retryAfter = TimeSpan.FromMilliseconds(window.StartMs + WindowMs - now);
            return true;
        }
    }

    /// <summary>Counts one failed authentication from <paramref name="address"/>.</summary>
    public void RecordFailure(IPAddress? address)
    {
        if (_limit == 0 || address is null)
        {
            return;
        }

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (_windows.Count >= MaxAddresses)
        {
            Trim(now);
        }

        var window = _windows.GetOrAdd(address, static (_, start) => new Window { StartMs = start }, now);
        lock (window)
        {
            if (now - window.StartMs >= WindowMs)
            {
                window.StartMs = now;
                window.Failures = 0;
            }

            window.Failures++;
        }
    }

    private void Trim(long now)
    {
        foreach (var (address, window) in _windows)
        {
            if (now - window.StartMs >= WindowMs)
            {
                _windows.TryRemove(address, out _);
            }
        }

        if (_windows.Count >= MaxAddresses)
        {
            _windows.Clear();
        }
    }

    private sealed class Window
    {
        public long StartMs;
        public int Failures;
    }
}
