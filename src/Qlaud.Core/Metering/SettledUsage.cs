using Qlaud.Catalog;

namespace Qlaud.Metering;

/// <summary>What a request really used, reported to <see cref="ISpendGuard.Settle"/>.</summary>
/// <param name="Model">The model slug the client asked for.</param>
/// <param name="Route">The route that served it (<c>provider/upstream-model</c>), if any.</param>
/// <param name="Usage">Token counts (the upstream's, or an estimate when <paramref name="Estimated"/>).</param>
/// <param name="UpstreamCostMicros">What the upstream charges for <paramref name="Usage"/>, in micro-USD (markup is added by the guard).</param>
/// <param name="RequestId">The request's id, for the ledger.</param>
/// <param name="EndUserId">The end user to attribute the usage to when the caller's key names none (for example the OpenAI <c>user</c> field).</param>
/// <param name="Estimated">Whether <paramref name="Usage"/> is an estimate because the upstream reported none.</param>
internal readonly record struct SettledUsage(string? Model, string? Route, TokenUsage Usage, long UpstreamCostMicros, string? RequestId = null,
    string? EndUserId = null, bool Estimated = false)
{
    /// <summary>The batch the request belongs to, recorded with its ledger entry; null for interactive requests.</summary>
    public string? BatchId { get; init; }

    /// <summary>The tool a call was for: the entry is a <see cref="Storage.LedgerEntryKind.Tool"/> entry; null for model requests.</summary>
    public string? Tool { get; init; }

    /// <summary>Usage served by <paramref name="route"/>, priced at the route's rates (cache reads and writes at their own rates).</summary>
    /// <param name="route">The route that answered.</param>
    /// <param name="usage">The upstream's reported usage; null when it sent none.</param>
    /// <param name="reservation">The request's reservation; its estimate stands in for missing usage.</param>
    /// <param name="generatedOutputTokens">Output tokens counted or estimated from what was relayed, when the upstream reported no usage (for example a stream cut off by the client).</param>
    /// <param name="requestId">The request's id.</param>
    /// <param name="endUserId">The end user named by the request.</param>
    /// <remarks>
    /// Without upstream usage the request is never charged as zero: input is the reservation's input estimate and
    /// output is <paramref name="generatedOutputTokens"/> when known, else the reservation's whole output allowance.
    /// </remarks>
    public static SettledUsage FromRoute(CatalogRoute route, TokenUsage? usage, SpendReservation reservation, long? generatedOutputTokens = null,
        string? requestId = null, string? endUserId = null)
    {
        ArgumentNullException.ThrowIfNull(route);
        ArgumentNullException.ThrowIfNull(reservation);
        bool estimated = usage is null;
        var tokens = usage ?? new TokenUsage(reservation.Estimate.InputTokens, generatedOutputTokens ?? reservation.Estimate.OutputTokens);
        return new SettledUsage(route.ModelId, route.Name, tokens, route.Price.Cost(tokens), requestId, endUserId, estimated);
    }
}
