using System.Diagnostics;

namespace Qlaud.LoadBench;

/// <summary>
/// Durations in <see cref="Stopwatch"/> ticks, recorded lock-free into one array allocated up front, so recording in the
/// measured loop allocates nothing; percentiles are computed after the run.
/// </summary>
/// <remarks>When the array is full further samples are counted as dropped rather than grown into: the run stays bounded in memory.</remarks>
internal sealed class LatencyRecorder(int capacity)
{
    private readonly long[] _samples = new long[capacity];
    private int _next;

    /// <summary>Samples recorded (at most the capacity).</summary>
    public int Count => Math.Min(Volatile.Read(ref _next), _samples.Length);

    /// <summary>Samples that did not fit.</summary>
    public int Dropped => Math.Max(0, Volatile.Read(ref _next) - _samples.Length);

    public void Reset() => Volatile.Write(ref _next, 0);

    public void Record(long ticks)
    {
        int slot = Interlocked.Increment(ref _next) - 1;
        if (slot < _samples.Length)
        {
            _samples[slot] = ticks;
        }
    }

    /// <summary>Sorts the recorded samples and returns the summary (in milliseconds).</summary>
    public Percentiles Summarize()
    {
        int count = Count;
        if (count == 0)
        {
            return Percentiles.Empty;
        }

        var span = _samples.AsSpan(0, count);
        span.Sort();
        return new Percentiles(count, ToMs(At(span, 0.50)), ToMs(At(span, 0.90)), ToMs(At(span, 0.99)), ToMs(At(span, 0.999)), ToMs(span[^1]));
    }

    /// <summary>Nearest-rank percentile.</summary>
    private static long At(ReadOnlySpan<long> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static double ToMs(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

/// <summary>Latency percentiles in milliseconds.</summary>
internal readonly record struct Percentiles(int Count, double P50, double P90, double P99, double P999, double Max)
{
    public static Percentiles Empty => new(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
}
