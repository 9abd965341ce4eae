using Microsoft.Extensions.Options;
using Qlaud.Configuration;

namespace Qlaud.Search;

/// <summary>The search service behind <see cref="IQlaudSearch"/> and <c>GET /v1/search</c>.</summary>
internal sealed class QlaudSearch(SearchIndex index, IOptions<QlaudOptions> options) : IQlaudSearch
{
    /// <summary>How many candidates each ranking contributes to the fusion, at least.</summary>
    private const int MinCandidates = 50;

    private readonly bool _enabled = options.Value.Search.Enabled;

    public async Task<IReadOnlyList<SearchHit>> SearchAsync(QlaudCaller caller, SearchRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
        if (!_enabled)
        {
            throw Invalid("Search is turned off on this gateway (Qlaud:Search:Enabled).", "search_disabled");
        }

        bool semantic = index.Embedder.Available;
        if (request.Mode == SearchMode.Semantic && !semantic)
        {
            throw Invalid("Semantic search needs an embedding model: register one for search (AddLocalEmbeddings()) or set Qlaud:Search:EmbeddingModel. "
                + "Use mode=keyword, or mode=hybrid (keyword-only without a model).", "semantic_search_unavailable");
        }

        var scope = SearchScope.For(caller, request);
        var terms = SearchText.Terms(request.Query);
        var store = index.Store;
        if (request.Mode == SearchMode.Keyword || (request.Mode == SearchMode.Hybrid && !semantic))
        {
            var hits = await store.KeywordSearchAsync(scope, terms, request.Limit, cancellationToken).ConfigureAwait(false);
            return [.. hits.Select(static h => new SearchHit(h.ThreadId, h.MessageId, h.Role, h.Snippet, h.Score, h.CreatedAtMs))];
        }

        int candidates = Math.Max(MinCandidates, request.Limit * 4);
        var queryVector = (await index.Embedder.EmbedAsync([request.Query], cancellationToken).ConfigureAwait(false))[0];
        await index.EnsureLoadedAsync(cancellationToken).ConfigureAwait(false);
        await index.CatchUpAsync(ifStale: true, cancellationToken).ConfigureAwait(false);
        var nearest = await index.Vectors.SearchAsync(scope, queryVector, request.Mode == SearchMode.Semantic ? request.Limit : candidates, cancellationToken).ConfigureAwait(false);
        if (request.Mode == SearchMode.Semantic)
        {
            var stored = await store.ReadHitsAsync([.. nearest.Select(static n => n.DocumentId)], terms, cancellationToken).ConfigureAwait(false);
            return Ordered(stored, nearest.Select(static n => (n.DocumentId, (double)n.Score)), request.Limit);
        }

        // Keyword hits that match too few of the query's words are noise to the fusion (a paraphrase shares only a minor word
        // with unrelated messages); they stay out, as Elasticsearch's minimum_should_match keeps them out of a match query.
        int required = SearchText.MinimumShouldMatch(terms.Count);
        var keyword = (await store.KeywordSearchAsync(scope, terms, candidates, cancellationToken).ConfigureAwait(false))
            .Where(k => k.MatchedTerms >= required).ToList();
        var fused = RankFusion.Fuse([.. keyword.Select(static k => k.DocumentId)], [.. nearest.Select(static n => n.DocumentId)]);
        var top = fused.Take(request.Limit).ToList();
        var keywordById = keyword.ToDictionary(static k => k.DocumentId);
        var missing = top.Where(t => !keywordById.ContainsKey(t.DocumentId)).Select(static t => t.DocumentId).ToList();
        var read = await store.ReadHitsAsync(missing, terms, cancellationToken).ConfigureAwait(false);
        return Ordered([.. keyword, .. read], top, request.Limit);
    }

    public Task<SearchIndexStatus> GetIndexStatusAsync(CancellationToken cancellationToken = default) => index.StatusAsync(cancellationToken);

    /// <summary>The hits in ranking order with the ranking's scores; documents deleted since they were ranked are left out.</summary>
    private static List<SearchHit> Ordered(IReadOnlyList<StoredHit> stored, IEnumerable<(long DocumentId, double Score)> ranking, int limit)
    {
        var byId = new Dictionary<long, StoredHit>();
        foreach (var hit in stored)
        {
            byId.TryAdd(hit.DocumentId, hit);
        }

        var hits = new List<SearchHit>(limit);
        foreach (var (id, score) in ranking)
        {
            if (hits.Count < limit && byId.TryGetValue(id, out var h))
            {
                hits.Add(new SearchHit(h.ThreadId, h.MessageId, h.Role, h.Snippet, score, h.CreatedAtMs));
            }
        }

        return hits;
    }

    private static void Validate(SearchRequest request)
    {
        string? problem = string.IsNullOrWhiteSpace(request.Query) ? "'q' is required: the words to search for."
            : request.Query.Length > SearchRequest.MaxQueryLength ? $"'q' is longer than {SearchRequest.MaxQueryLength} characters."
            : request.Limit is < 1 or > SearchRequest.MaxLimit ? $"'limit' must be a whole number from 1 to {SearchRequest.MaxLimit}."
            : request.AfterMs is < 0 || request.BeforeMs is < 0 ? "'after_ms' and 'before_ms' must be Unix milliseconds (0 or more)."
            : !Enum.IsDefined(request.Mode) ? "'mode' must be hybrid, semantic or keyword."
            : null;
        if (problem is not null)
        {
            throw Invalid(problem);
        }
    }

    private static QlaudException Invalid(string message, string? code = null) => new(new QlaudError(QlaudErrorKind.InvalidRequest, message, code));
}
