using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Qlaud.Search;

namespace Qlaud.Benchmarks;

/// <summary>
/// Exact top-10 vector search latency, p50 and p99 over 200 queries, at 10 k, 100 k and 1 M messages of synthetic 384-d unit
/// vectors in one account, on the calling thread (one core). Run with <c>dotnet run -c Release --project
/// benchmarks/Qlaud.Benchmarks -- search-latency [sizes…]</c>; prints a markdown table. With <c>--approximate</c> the account
/// is above <c>Qlaud:Search:ApproximateAboveVectors</c> (the HNSW index) and the table adds the build time and recall@10 against
/// the exact scan.
/// </summary>
internal static class SearchLatency
{
    private const int Dimensions = 384;
    private const int Queries = 200;
    private const int Warmup = 10;

    public static void Run(string[] sizes)
    {
        if (sizes is ["--approximate", .. var rest])
        {
            RunApproximate(rest);
            return;
        }

        int[] counts = sizes.Length > 0 ? [.. sizes.Select(static s => int.Parse(s, CultureInfo.InvariantCulture))] : [10_000, 100_000, 1_000_000];
        Console.WriteLine("| messages | p50 (ms) | p99 (ms) | max (ms) | index memory (MB) |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: |");
        foreach (int count in counts)
        {
            var random = new Random(20261207);
            var index = Build(count, random);
            var scope = new SearchScope("acct", null, null, null, null, null);
            var times = new double[Queries];
            for (int q = -Warmup; q < Queries; q++)
            {
                float[] query = UnitVector(random);
                long start = Stopwatch.GetTimestamp();
                var hits = index.Search(scope, query, 10);
                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (hits.Count != 10)
                {
                    throw new InvalidOperationException($"Expected 10 hits, got {hits.Count}.");
                }

                if (q >= 0)
                {
                    times[q] = ms;
                }
            }

            Array.Sort(times);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {count:N0} | {times[Queries / 2]:F2} | {times[(int)(Queries * 0.99) - 1]:F2} | {times[^1]:F2} | {(long)count * Dimensions * sizeof(float) / 1_000_000} |"));
            GC.KeepAlive(index);
        }
    }

    private static void RunApproximate(string[] sizes)
    {
        int[] counts = sizes.Length > 0 ? [.. sizes.Select(static s => int.Parse(s, CultureInfo.InvariantCulture))] : [100_000, 1_000_000];
        Console.WriteLine("| messages | HNSW build (s) | p50 (ms) | p99 (ms) | max (ms) | recall@10 vs exact |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (int count in counts)
        {
            var random = new Random(20261207);
            var vectors = Enumerable.Range(0, count).Select(_ => UnitVector(random)).ToArray();
            using var exact = new VectorIndex();
            for (int i = 0; i < count; i++)
            {
                exact.Add(i + 1, "acct", $"user-{i % 100}", null, $"thr-{i % 1000}", i, Dimensions, vectors[i]);
            }

            long buildStart = Stopwatch.GetTimestamp();
            using var index = new VectorIndex(approximateAboveVectors: 1);
            for (int i = 0; i < count; i++)
            {
                index.Add(i + 1, "acct", $"user-{i % 100}", null, $"thr-{i % 1000}", i, Dimensions, vectors[i]);
            }

            double buildSeconds = Stopwatch.GetElapsedTime(buildStart).TotalSeconds;
            if (!index.IsApproximate("acct"))
            {
                throw new InvalidOperationException("The account is not on the HNSW index.");
            }

            var scope = new SearchScope("acct", null, null, null, null, null);
            var times = new double[Queries];
            int found = 0;
            for (int q = -Warmup; q < Queries; q++)
            {
                float[] query = UnitVector(random);
                long start = Stopwatch.GetTimestamp();
                var hits = index.Search(scope, query, 10);
                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (hits.Count != 10)
                {
                    throw new InvalidOperationException($"Expected 10 hits, got {hits.Count}.");
                }

                if (q >= 0)
                {
                    times[q] = ms;
                    var want = exact.Search(scope, query, 10).Select(static h => h.DocumentId).ToHashSet();
                    found += hits.Count(h => want.Contains(h.DocumentId));
                }
            }

            Array.Sort(times);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {count:N0} | {buildSeconds:F0} | {times[Queries / 2]:F2} | {times[(int)(Queries * 0.99) - 1]:F2} | {times[^1]:F2} | {found / (double)(Queries * 10):F3} |"));
        }
    }

    /// <summary>An index of <paramref name="count"/> messages of one chunk each, spread over 1,000 threads and 100 end users.</summary>
    internal static VectorIndex Build(int count, Random random)
    {
        var index = new VectorIndex();
        for (int i = 0; i < count; i++)
        {
            index.Add(i + 1, "acct", $"user-{i % 100}", null, $"thr-{i % 1000}", i, Dimensions, UnitVector(random));
        }

        return index;
    }

    internal static float[] UnitVector(Random random)
    {
        var vector = new float[Dimensions];
        for (int d = 0; d < vector.Length; d++)
        {
            vector[d] = (float)(random.NextDouble() * 2 - 1);
        }

        TensorPrimitives.Divide(vector, TensorPrimitives.Norm(vector), vector);
        return vector;
    }
}
