namespace Qlaud.Catalog;

/// <summary>A route's long-context tier: the prices of a request whose input tokens exceed <see cref="ThresholdTokens"/>.</summary>
/// <param name="ThresholdTokens">The most input tokens billed at the route's normal prices (for example 200,000).</param>
/// <param name="Price">The prices above the threshold, in micro-USD per million tokens.</param>
public sealed record LongContextPrice(long ThresholdTokens, ModelPrice Price);
