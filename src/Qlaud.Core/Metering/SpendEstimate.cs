namespace Qlaud.Metering;

/// <summary>What a request may cost at most, computed before the upstream call.</summary>
/// <param name="InputTokens">Estimated input tokens (an upper estimate from the request size).</param>
/// <param name="OutputTokens">The most output tokens the request allows (<c>max_tokens</c>, or the model's maximum).</param>
/// <param name="WorstCaseMicros">The charged cost (markup included) of those tokens on the dearest candidate route, at its dearest input rate.</param>
internal readonly record struct SpendEstimate(long InputTokens, long OutputTokens, long WorstCaseMicros)
{
    /// <summary>The tokens counted against a tokens-per-minute limit when the request is admitted: the input estimate
    /// plus the output allowance (the difference to the real count is settled afterwards).</summary>
    public long RateLimitTokens => InputTokens + OutputTokens;
}
