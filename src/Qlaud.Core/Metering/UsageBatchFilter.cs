namespace Qlaud.Metering;

/// <summary>Narrows a usage report to batch spend: <see cref="Only"/> true for batch requests only, false for interactive
/// requests only; <see cref="BatchId"/> for one batch's requests.</summary>
internal sealed record UsageBatchFilter(bool? Only, string? BatchId = null);
