using System.Numerics.Tensors;
using Qlaud.Search;

namespace Qlaud.Core.Tests.Search;

public sealed class VectorIndexApproximateTests
{
    private const int Dimensions = 384;
    private static readonly SearchScope Account = new("acct", null, null, null, null, null);

    [Fact]
    public void Search_AboveTheThreshold_HnswRecallAt10AgainstExactIsAtLeast95Percent()
    {
        var random = new Random(7);
        var vectors = Enumerable.Range(0, 5_000).Select(_ => UnitVector(random)).ToArray();
        using var exact = Build(vectors, long.MaxValue);
        using var approximate = Build(vectors, 1_000);
        Assert.False(exact.IsApproximate("acct"));
        Assert.True(approximate.IsApproximate("acct"));

        int found = 0;
        const int Queries = 100;
        for (int q = 0; q < Queries; q++)
        {
            // Uniformly random vectors and queries: no clusters, the hardest case for a graph index.
            float[] query = UnitVector(random);
            var want = exact.Search(Account, query, 10).Select(static h => h.DocumentId).ToHashSet();
            var got = approximate.Search(Account, query, 10);
            Assert.Equal(10, got.Count);
            Assert.True(got.Zip(got.Skip(1)).All(static p => p.First.Score >= p.Second.Score));
            found += got.Count(h => want.Contains(h.DocumentId));
        }

        double recall = found / (double)(Queries * 10);
        Assert.True(recall >= 0.95, $"recall@10 {recall:F3}");
    }

    [Fact]
    public void Search_Approximate_ScoresAreExactAndNarrowFiltersFallBackToTheExactScan()
    {
        var random = new Random(11);
        var vectors = Enumerable.Range(0, 3_000).Select(_ => UnitVector(random)).ToArray();
        using var exact = Build(vectors, long.MaxValue);
        using var approximate = Build(vectors, 1_000);
        var scope = Account with { EndUserId = "user-7" }; // 1 % of the messages: rarely among 40 candidates

        float[] query = UnitVector(random);
        var want = exact.Search(scope, query, 10);
        var got = approximate.Search(scope, query, 10);

        Assert.Equal(want, got);
        var self = approximate.Search(Account, vectors[42], 1).Single();
        Assert.Equal(43L, self.DocumentId);
        Assert.Equal(TensorPrimitives.Dot(vectors[42], vectors[42]), self.Score, 5);
    }

    [Fact]
    public void Remove_EndUserAndThread_GoneFromTheHnswIndexToo()
    {
        var random = new Random(13);
        var vectors = Enumerable.Range(0, 3_000).Select(_ => UnitVector(random)).ToArray();
        using var index = Build(vectors, 1_000);

        int erased = index.RemoveEndUser("acct", "user-3"); // documents 4, 104, 204, …
        int thread = index.RemoveThread("acct", "thr-5"); // documents 6, 1006, 2006

        Assert.Equal(30, erased);
        Assert.Equal(3, thread);
        Assert.True(index.IsApproximate("acct"));
        for (int i = 3; i < vectors.Length; i += 100)
        {
            // Each erased message's own vector as the query: before the erase it was its own best hit.
            var hits = index.Search(Account, vectors[i], 10);
            Assert.Equal(10, hits.Count);
            Assert.DoesNotContain(hits, h => (h.DocumentId - 1) % 100 == 3);
        }

        Assert.DoesNotContain(index.Search(Account, vectors[5], 10), static h => h.DocumentId == 6);
        Assert.Empty(index.Search(Account with { EndUserId = "user-3" }, vectors[3], 10));
    }

    [Fact]
    public void Threshold_SwitchesOnAboveItAndOffAtHalf()
    {
        var random = new Random(17);
        var vectors = Enumerable.Range(0, 1_000).Select(_ => UnitVector(random)).ToArray();
        using var index = Build(vectors, 1_000);
        Assert.False(index.IsApproximate("acct")); // exactly at the threshold: exact

        float[] extra = UnitVector(random);
        index.Add(1_001, "acct", "user-0", null, "thr-0", 0, Dimensions, extra);
        Assert.True(index.IsApproximate("acct"));
        Assert.Equal(1_001L, index.Search(Account, extra, 1).Single().DocumentId);

        for (int u = 0; u < 49; u++)
        {
            index.RemoveEndUser("acct", $"user-{u}");
        }

        Assert.True(index.IsApproximate("acct")); // 510 left: above half the threshold
        index.RemoveEndUser("acct", "user-49");
        Assert.False(index.IsApproximate("acct")); // 500 left
        Assert.Equal(500, index.Search(Account, extra, 1_000).Count);
        Assert.Equal(1_000L, index.Search(Account, vectors[999], 1).Single().DocumentId);
    }

    private static VectorIndex Build(float[][] vectors, long threshold)
    {
        var index = new VectorIndex(threshold);
        for (int i = 0; i < vectors.Length; i++)
        {
            Assert.True(index.Add(i + 1, "acct", $"user-{i % 100}", null, $"thr-{i % 1000}", i, Dimensions, vectors[i]));
        }

        return index;
    }

    private static float[] UnitVector(Random random)
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
