namespace Qlaud.Search;

/// <summary>Reciprocal rank fusion: a document's fused score is the sum over the lists it is in of 1 / (k + its rank there).</summary>
/// <remarks>Ranks only, not scores, so BM25 and cosine need no common scale; k = 60 as in Cormack, Clarke and Büttcher (2009).</remarks>
internal static class RankFusion
{
    public const int K = 60;

    /// <summary>The documents of all lists, best fused score first (ties: the order of first appearance).</summary>
    public static List<(long DocumentId, double Score)> Fuse(params IReadOnlyList<long>[] rankings)
    {
        var scores = new Dictionary<long, double>();
        var order = new List<long>();
        foreach (var ranking in rankings)
        {
            for (int rank = 0; rank < ranking.Count; rank++)
            {
                long id = ranking[rank];
                if (!scores.TryGetValue(id, out double score))
                {
                    order.Add(id);
                }

                scores[id] = score + 1.0 / (K + rank + 1);
            }
        }

        return [.. order.Select((id, i) => (id, scores[id], i)).OrderByDescending(static x => x.Item2).ThenBy(static x => x.i).Select(static x => (x.id, x.Item2))];
    }
}
