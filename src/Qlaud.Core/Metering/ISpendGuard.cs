namespace Qlaud.Metering;

/// <summary>
/// The metering seam of the request path: reserve a request's worst-case cost before the upstream call, then settle
/// the real cost (or release the reservation) after it.
/// </summary>
/// <remarks>
/// <para>Call order for every request that may reach an upstream:</para>
/// <list type="number">
/// <item><c>Estimate</c> once the route plan is known, then <see cref="ReserveAsync"/> after routing and before the first upstream attempt. Refused: answer the error
/// (402/429/401), make no upstream request.</item>
/// <item>Exactly one of <see cref="Settle"/> (an upstream answered, fully or in part: charged for what it reported or
/// generated) or <see cref="Release"/> (no upstream produced billable output: every attempt failed before answering,
/// or the request was cancelled before the upstream answered). A second call on the same reservation does nothing.</item>
/// </list>
/// <para>Which one, from a forwarding outcome: nothing written to the client, or no route answered → <see cref="Release"/>;
/// usage reported (complete, or partial from a stream cut off by the client or the upstream) → <see cref="Settle"/> with it;
/// a successful answer or a stream broken mid-way without usage → <see cref="Settle"/> with
/// <see cref="SettledUsage.FromRoute"/> and no usage (charged from the estimate, logged as an error); an upstream error
/// status relayed to the client (4xx/5xx body, no output) → <see cref="Release"/>.</para>
/// <para>The invariant: the billed spend of a key never exceeds its cap in the current period, and with
/// <c>Qlaud:Metering:EnforceWallet</c> an account's billed spend never exceeds its balance, also under any number of
/// concurrent requests. Settled usage is counted in memory at once and written to the ledger in batches off the request path.</para>
/// <para>Every request path (the HTTP forwarder, <see cref="MeteringChatClient"/> and <see cref="Embeddings.MeteringEmbeddingGenerator"/>) follows this protocol through one type,
/// <see cref="MeteredCall"/>, which holds the settle-or-release table for every exit path, exceptions included.</para>
/// </remarks>
internal interface ISpendGuard
{
    /// <summary>The worst-case estimate for a request routed by <paramref name="plan"/>: every candidate route (a fallback
    /// may land on any), <paramref name="inputTokens"/> at the route's dearest input rate, the output allowance
    /// (<paramref name="maxOutputTokens"/> capped at the model's maximum, else the model's maximum), plus
    /// <c>Qlaud:Pricing:MarkupPercent</c>. Input tokens come from <see cref="SpendEstimator.EstimateInputTokens(ReadOnlySpan{byte}, in Forwarding.WireRequestInfo, IReadOnlyList{Catalog.CatalogRoute})"/>
    /// (the wire body, tokenized) or <see cref="SpendEstimator.EstimateInputTokens(IEnumerable{Microsoft.Extensions.AI.ChatMessage}, Microsoft.Extensions.AI.ChatOptions?)"/> (in-process).</summary>
    SpendEstimate Estimate(Routing.RoutePlan plan, long inputTokens, long? maxOutputTokens);

    /// <summary>The same for the candidate routes of a selection, which may span several models (the <c>models</c> fallback):
    /// each route's output allowance comes from its own model in <paramref name="catalog"/>.</summary>
    SpendEstimate Estimate(IReadOnlyList<Catalog.CatalogRoute> candidates, Catalog.ModelCatalog catalog, long inputTokens, long? maxOutputTokens);

    /// <summary>Holds <paramref name="estimate"/>'s worst-case cost against the caller's key cap and account wallet, and its
    /// tokens against the key's rate limits.</summary>
    ValueTask<SpendDecision> ReserveAsync(QlaudCaller caller, SpendEstimate estimate, CancellationToken cancellationToken);

    /// <summary>Charges the real cost (upstream cost plus markup), frees the rest of the reservation, and queues the ledger entry.</summary>
    void Settle(SpendReservation reservation, in SettledUsage usage);

    /// <summary>Frees the reservation without charging anything.</summary>
    void Release(SpendReservation reservation);
}
