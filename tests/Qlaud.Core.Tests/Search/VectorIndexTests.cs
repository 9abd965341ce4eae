using Qlaud.Search;

namespace Qlaud.Core.Tests.Search;

public sealed class VectorIndexTests
{
    private static readonly SearchScope Account = new("acct", null, null, null, null, null);

    [Fact]
    public void Search_ExactScan_BestChunkPerMessageInScoreOrder()
    {
        var index = new VectorIndex();
        index.Add(1, "acct", "alice", null, "t1", 10, 2, [1, 0]);
        index.Add(2, "acct", "bob", null, "t2", 20, 2, [0, 1, 0.6f, 0.8f]); // two chunks: the second is nearer
        index.Add(3, "acct", "alice", null, "t1", 30, 2, [-1, 0]);

        var hits = index.Search(Account, [0.6f, 0.8f], 3);

        Assert.Equal([2L, 1L, 3L], hits.Select(static h => h.DocumentId));
        Assert.Equal(1f, hits[0].Score, 5);
        Assert.Equal(0.6f, hits[1].Score, 5);
    }

    [Fact]
    public void Search_Scope_FiltersAccountEndUserKeyThreadAndTime()
    {
        var index = new VectorIndex();
        index.Add(1, "acct", "alice", "k1", "t1", 10, 2, [1, 0]);
        index.Add(2, "acct", "bob", "k2", "t2", 20, 2, [1, 0]);
        index.Add(3, "other", "alice", "k1", "t3", 30, 2, [1, 0]);

        Assert.Equal([1L], index.Search(Account with { EndUserId = "alice" }, [1, 0], 10).Select(static h => h.DocumentId));
        Assert.Equal([2L], index.Search(Account with { KeyId = "k2" }, [1, 0], 10).Select(static h => h.DocumentId));
        Assert.Equal([2L], index.Search(Account with { ThreadId = "t2" }, [1, 0], 10).Select(static h => h.DocumentId));
        Assert.Equal([2L], index.Search(Account with { AfterMs = 10 }, [1, 0], 10).Select(static h => h.DocumentId));
        Assert.Equal([1L], index.Search(Account with { BeforeMs = 20 }, [1, 0], 10).Select(static h => h.DocumentId));
        Assert.Equal([3L], index.Search(new SearchScope("other", null, null, null, null, null), [1, 0], 10).Select(static h => h.DocumentId));
        Assert.Empty(index.Search(new SearchScope("none", null, null, null, null, null), [1, 0], 10));
    }

    [Fact]
    public void Remove_ThreadAndEndUser_GoneAndCountedAndTheRestCompactedIntact()
    {
        var index = new VectorIndex();
        for (int i = 0; i < 100; i++)
        {
            index.Add(i + 1, "acct", i < 50 ? "alice" : "bob", null, $"t{i % 10}", i, 2, [MathF.Cos(i), MathF.Sin(i)]);
        }

        int thread = index.RemoveThread("acct", "t3");
        int alice = index.RemoveEndUser("acct", "alice");
        var left = index.Search(Account, [1, 0], 100);

        Assert.Equal(10, thread);
        Assert.Equal(45, alice); // five of alice's were in t3
        Assert.Equal(45, index.Count);
        Assert.Equal(45, left.Count);
        Assert.All(left, static h => Assert.True(h.DocumentId > 50 && (h.DocumentId - 1) % 10 != 3));
        Assert.Equal(MathF.Cos(99), left.Single(static h => h.DocumentId == 100).Score, 5);
    }

    [Fact]
    public void Add_OtherDimensions_Refused()
    {
        var index = new VectorIndex();

        Assert.True(index.Add(1, "acct", null, null, "t", 0, 2, [1, 0]));
        Assert.False(index.Add(2, "acct", null, null, "t", 0, 3, [1, 0, 0]));
        Assert.Empty(index.Search(Account, [1, 0, 0], 10));
    }

    [Fact]
    public void Add_ADocumentHeld_KeptOnce_AndRemoveDocumentsDropsOnlyThoseNamed()
    {
        var index = new VectorIndex();
        index.Add(1, "acct", "alice", null, "t1", 10, 2, [1, 0]);
        index.Add(2, "acct", "bob", null, "t2", 20, 2, [0, 1, 0.6f, 0.8f]);

        Assert.True(index.Add(2, "acct", "bob", null, "t2", 20, 2, [0, 1, 0.6f, 0.8f])); // the change feed returns a document again
        Assert.Equal(3, index.Count);
        Assert.Equal([2L, 1L], index.Search(Account, [0.6f, 0.8f], 10).Select(static h => h.DocumentId));

        Assert.Equal(1, index.RemoveDocuments("acct", new HashSet<long> { 2, 7 }));
        Assert.Equal(0, index.RemoveDocuments("other", new HashSet<long> { 1 }));
        Assert.Equal(1, index.Count);
        Assert.Equal([1L], index.Search(Account, [0.6f, 0.8f], 10).Select(static h => h.DocumentId));
    }
}
