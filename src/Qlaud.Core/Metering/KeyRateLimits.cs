using System.Threading.RateLimiting;

namespace Qlaud.Metering;

/// <summary>A key's requests-per-minute and tokens-per-minute limiters (token buckets that refill evenly over the minute).</summary>
/// <remarks>With <paramref name="nodes"/> gateway instances sharing the database, this instance admits its share,
/// <c>ceil(limit / nodes)</c> per minute.</remarks>
internal sealed class KeyRateLimits(int? rpm, int? tpm, int nodes = 1) : IDisposable
{
    private readonly TokenBucketRateLimiter? _requests = rpm is > 0 ? Create(Share(rpm.Value, nodes)) : null;
    private readonly TokenBucketRateLimiter? _tokens = tpm is > 0 ? Create(Share(tpm.Value, nodes)) : null;

    /// <summary>The key's requests per minute (across every instance).</summary>
    public int? Rpm { get; } = rpm;

    /// <summary>The key's tokens per minute (across every instance).</summary>
    public int? Tpm { get; } = tpm;

    /// <summary>The instances the limits are split between.</summary>
    public int Nodes { get; } = Math.Max(1, nodes);

    private static int Share(int limit, int nodes) => nodes <= 1 ? limit : (int)((limit + (long)nodes - 1) / nodes);

    /// <summary>Takes one request and <paramref name="tokens"/> tokens, or reports how long to wait. Takes nothing when refused.</summary>
    public bool TryAcquire(long tokens, out TimeSpan retryAfter, out string? limit)
    {
        retryAfter = TimeSpan.Zero;
        limit = null;
        RateLimitLease? request = null;
        if (_requests is not null)
        {
            request = _requests.AttemptAcquire(1);
            if (!request.IsAcquired)
            {
                retryAfter = RetryAfter(request);
                request.Dispose();
                limit = "rpm";
                return false;
            }
        }

        if (_tokens is not null)
        {
            // A request estimated above the whole per-minute budget still passes when the bucket is full.
            int permits = (int)Math.Clamp(tokens, 0, Share(Tpm!.Value, Nodes));
            using var lease = _tokens.AttemptAcquire(permits);
            if (!lease.IsAcquired)
            {
                retryAfter = RetryAfter(lease);
                limit = "tpm";
                request?.Dispose();
                return false;
            }
        }

        request?.Dispose();
        return true;
    }

    /// <summary>Counts tokens used beyond the estimate; best effort (the request was already served).</summary>
    public void ConsumeTokens(long tokens)
    {
        if (_tokens is not null && tokens > 0)
        {
            using var lease = _tokens.AttemptAcquire((int)Math.Min(tokens, Share(Tpm!.Value, Nodes)));
        }
    }

    public void Dispose()
    {
        _requests?.Dispose();
        _tokens?.Dispose();
    }

    private static TokenBucketRateLimiter Create(int perMinute)
    {
        // k tokens every 60s·k/limit: an exact per-minute rate with refills no more often than about once a second.
        int perRefill = (perMinute + 59) / 60;
        return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = perRefill,
            ReplenishmentPeriod = TimeSpan.FromTicks(TimeSpan.FromMinutes(1).Ticks * perRefill / perMinute),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    private static TimeSpan RetryAfter(RateLimitLease lease)
        => lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) && retryAfter > TimeSpan.Zero ? retryAfter : TimeSpan.FromSeconds(1);
}
