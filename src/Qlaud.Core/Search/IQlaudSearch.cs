namespace Qlaud.Search;

/// <summary>
/// Search over thread messages: keyword (BM25 over a full-text index), semantic (nearest embeddings) or hybrid (both lists
/// fused by reciprocal rank). <c>GET /v1/search</c> calls this service.
/// </summary>
/// <remarks>
/// <para>Every call names its <see cref="QlaudCaller"/> and sees exactly the messages of the threads that caller may see
/// (<see cref="Threads.IQlaudThreads"/>): an end-user key only its end user's, a master or admin key its whole account
/// (narrowed by <see cref="SearchRequest.EndUserId"/>), never another account's.</para>
/// <para>Messages are indexed off the request path from a durable queue written with each turn, so a message is findable a
/// short time after its turn was answered (<see cref="GetIndexStatusAsync"/> reports the backlog and lag). Deleting a thread
/// or erasing an end user removes their messages from the index and the vector store before the call returns.</para>
/// <para>Without an embedding generator (none registered for search and no <c>Qlaud:Search:EmbeddingModel</c>) search is
/// keyword-only: <see cref="SearchMode.Hybrid"/> answers keyword hits and <see cref="SearchMode.Semantic"/> is an
/// invalid-request error. Failures are <see cref="QlaudException"/>s carrying the <see cref="QlaudError"/> the HTTP surface answers with.</para>
/// </remarks>
public interface IQlaudSearch
{
    /// <summary>The best-matching messages <paramref name="caller"/> may see, best first.</summary>
    Task<IReadOnlyList<SearchHit>> SearchAsync(QlaudCaller caller, SearchRequest request, CancellationToken cancellationToken = default);

    /// <summary>The indexing backlog and lag of this gateway instance.</summary>
    Task<SearchIndexStatus> GetIndexStatusAsync(CancellationToken cancellationToken = default);
}
