namespace Qlaud.Routing;

/// <summary>
/// Live statistics of one route over a sliding window: time to first token (p50, p95), output tokens per second and
/// error rate. Time comes from the injected <see cref="TimeProvider"/>, so windows are testable with a fake clock.
/// </summary>
/// <remarks>
/// The window is cut into <see cref="SlotCount"/> slots; a slot older than the window is reset when its turn comes again.
/// Times to first token go into a fixed log-spaced histogram per slot, so recording allocates nothing and a percentile
/// is interpolated inside its bucket. Throughput is output tokens divided by the time spent generating them (first
/// token to last for a stream, the whole exchange otherwise).
/// </remarks>
internal sealed class RouteStatistics
{
    /// <summary>Upper bounds of the time-to-first-token buckets, in milliseconds; the last bucket is open-ended.</summary>
    internal static readonly double[] BucketBoundsMs =
        [10, 20, 30, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 60_000, 120_000];

    private const int SlotCount = 10;

    private readonly TimeProvider _time;
    private readonly long _slotTicks;
    private readonly Slot[] _slots = new Slot[SlotCount];
    private readonly Lock _lock = new();

    public RouteStatistics(TimeProvider time, TimeSpan window)
    {
        _time = time;
        _slotTicks = Math.Max(1, (long)(window.TotalSeconds * time.TimestampFrequency / SlotCount));
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new Slot { Epoch = long.MinValue, Ttft = new int[BucketBoundsMs.Length + 1] };
        }
    }

    /// <summary>Records a served attempt.</summary>
    /// <param name="timeToFirstToken">From sending the request to the first byte of the answer body; null when unknown.</param>
    /// <param name="outputTokens">Output tokens the upstream reported; 0 when unknown.</param>
    /// <param name="generation">The time spent producing <paramref name="outputTokens"/>.</param>
    public void RecordSuccess(TimeSpan? timeToFirstToken, long outputTokens, TimeSpan generation) => Record(failed: false, timeToFirstToken, outputTokens, generation);

    /// <summary>Records a failed attempt (status, timeout, connection error or broken stream).</summary>
    public void RecordFailure(TimeSpan? timeToFirstToken = null) => Record(failed: true, timeToFirstToken, 0, TimeSpan.Zero);

    /// <summary>Output tokens per second over the window, or null without data.</summary>
    public double? TokensPerSecond()
    {
        long epoch = CurrentEpoch();
        long tokens = 0;
        double seconds = 0;
        lock (_lock)
        {
            foreach (var slot in _slots)
            {
                if (slot.Epoch > epoch - SlotCount)
                {
                    tokens += slot.OutputTokens;
                    seconds += slot.GenerationSeconds;
                }
            }
        }

        return tokens > 0 && seconds > 0 ? tokens / seconds : null;
    }

    /// <summary>The median time to first token over the window, in milliseconds, or null without data.</summary>
    public double? MedianTimeToFirstTokenMs() => Snapshot().P50TimeToFirstTokenMs;

    /// <summary>Everything over the window, for the catalog.</summary>
    public RouteStatisticsSnapshot Snapshot()
    {
        long epoch = CurrentEpoch();
        Span<int> histogram = stackalloc int[BucketBoundsMs.Length + 1];
        long attempts = 0, failures = 0, tokens = 0;
        double seconds = 0;
        lock (_lock)
        {
            foreach (var slot in _slots)
            {
                if (slot.Epoch <= epoch - SlotCount)
                {
                    continue;
                }

                attempts += slot.Attempts;
                failures += slot.Failures;
                tokens += slot.OutputTokens;
                seconds += slot.GenerationSeconds;
                for (int b = 0; b < histogram.Length; b++)
                {
                    histogram[b] += slot.Ttft[b];
                }
            }
        }

        return new RouteStatisticsSnapshot(
            attempts,
            failures,
            attempts > 0 ? (double)failures / attempts : null,
            Percentile(histogram, 0.50),
            Percentile(histogram, 0.95),
            tokens > 0 && seconds > 0 ? tokens / seconds : null);
    }

    private void Record(bool failed, TimeSpan? timeToFirstToken, long outputTokens, TimeSpan generation)
    {
        long epoch = CurrentEpoch();
        int bucket = timeToFirstToken is { } ttft ? Bucket(ttft.TotalMilliseconds) : -1;
        lock (_lock)
        {
            var slot = _slots[(int)(epoch % SlotCount)];
            if (slot.Epoch != epoch)
            {
                slot.Epoch = epoch;
                slot.Attempts = slot.Failures = slot.OutputTokens = 0;
                slot.GenerationSeconds = 0;
                Array.Clear(slot.Ttft);
            }

            slot.Attempts++;
            if (failed)
            {
                slot.Failures++;
            }

            if (bucket >= 0)
            {
                slot.Ttft[bucket]++;
            }

            // A throughput sample needs both tokens and a measurable generation time.
            if (outputTokens > 0 && generation > TimeSpan.Zero)
            {
                slot.OutputTokens += outputTokens;
                slot.GenerationSeconds += generation.TotalSeconds;
            }
        }
    }

    private long CurrentEpoch() => _time.GetTimestamp() / _slotTicks;

    private static int Bucket(double ms)
    {
        for (int i = 0; i < BucketBoundsMs.Length; i++)
        {
            if (ms <= BucketBoundsMs[i])
            {
                return i;
            }
        }

        return BucketBoundsMs.Length;
    }

    /// <summary>The <paramref name="quantile"/> of a bucket histogram, interpolated linearly inside its bucket.</summary>
    private static double? Percentile(ReadOnlySpan<int> histogram, double quantile)
    {
        long total = 0;
        foreach (int count in histogram)
        {
            total += count;
        }

        if (total == 0)
        {
            return null;
        }

        double rank = quantile * total;
        long seen = 0;
        for (int b = 0; b < histogram.Length; b++)
        {
            if (histogram[b] == 0)
            {
                continue;
            }

            if (seen + histogram[b] >= rank)
            {
                double lower = b == 0 ? 0 : BucketBoundsMs[b - 1];
                double upper = b < BucketBoundsMs.Length ? BucketBoundsMs[b] : lower * 2;
                double within = (rank - seen) / histogram[b];
                return Math.Round(lower + ((upper - lower) * within), 1);
            }

            seen += histogram[b];
        }

        return BucketBoundsMs[^1];
    }

    private sealed class Slot
    {
        public long Epoch;
        public long Attempts;
        public long Failures;
        public long OutputTokens;
        public double GenerationSeconds;
        public required int[] Ttft;
    }
}

/// <summary>A route's live statistics over the sliding window.</summary>
/// <param name="Attempts">Attempts recorded.</param>
/// <param name="Failures">Failed attempts (5xx, 429, timeouts, connection errors, broken streams).</param>
/// <param name="ErrorRate">Failures divided by attempts; null without attempts.</param>
/// <param name="P50TimeToFirstTokenMs">Median time to first token in milliseconds; null without data.</param>
/// <param name="P95TimeToFirstTokenMs">95th percentile time to first token in milliseconds; null without data.</param>
/// <param name="TokensPerSecond">Output tokens per second of generation; null without data.</param>
internal readonly record struct RouteStatisticsSnapshot(long Attempts, long Failures, double? ErrorRate, double? P50TimeToFirstTokenMs, double? P95TimeToFirstTokenMs, double? TokensPerSecond);
