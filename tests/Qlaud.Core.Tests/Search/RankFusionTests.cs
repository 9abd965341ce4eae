using Qlaud.Search;

namespace Qlaud.Core.Tests.Search;

public sealed class RankFusionTests
{
    [Fact]
    public void Fuse_TwoRankings_SumsReciprocalRanks()
    {
        var fused = RankFusion.Fuse([1, 2, 3], [3, 4]);

        Assert.Equal([3L, 1L, 2L, 4L], fused.Select(static f => f.DocumentId));
        Assert.Equal(1.0 / 63 + 1.0 / 61, fused[0].Score, 12);
        Assert.Equal(1.0 / 61, fused[1].Score, 12);
        Assert.Equal(fused[2].Score, fused[3].Score); // a tie keeps the order of first appearance
    }

    [Fact]
    public void Fuse_OneEmptyRanking_KeepsTheOtherOrder()
        => Assert.Equal([5L, 6L, 7L], RankFusion.Fuse([], [5, 6, 7]).Select(static f => f.DocumentId));
}
