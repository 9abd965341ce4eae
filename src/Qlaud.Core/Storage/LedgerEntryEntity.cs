namespace Qlaud.Storage;

/// <summary>One line of an account's ledger: every change of a wallet balance is exactly one entry.</summary>
internal sealed class LedgerEntryEntity
{
    public long Id { get; set; }

    public required string AccountId { get; set; }

    public LedgerEntryKind Kind { get; set; }

    /// <summary>The change to the wallet balance in micro-USD: negative for usage and refunds, positive for credits.</summary>
    public long AmountMicros { get; set; }

    public string? KeyId { get; set; }

    public string? EndUserId { get; set; }

    public string? Model { get; set; }

    public string? Route { get; set; }

    public long InputTokens { get; set; }

    public long OutputTokens { get; set; }

    public long CacheReadTokens { get; set; }

    public long CacheWriteTokens { get; set; }

    public long ReasoningTokens { get; set; }

    /// <summary>What the upstream charges for the request, in micro-USD.</summary>
    public long UpstreamCostMicros { get; set; }

    /// <summary>What the request was charged (upstream cost plus markup, rounded up), in micro-USD.</summary>
    public long CostMicros { get; set; }

    /// <summary>Charged cost that did not fit under the key's cap or the wallet and was not billed (the worst-case estimate was too low).</summary>
    public long WrittenOffMicros { get; set; }

    /// <summary>Whether the tokens are an estimate because the upstream reported no usage.</summary>
    public bool Estimated { get; set; }

    public long CreatedAtMs { get; set; }

    public string? RequestId { get; set; }

    /// <summary>The batch the request belonged to; null for interactive requests.</summary>
    public string? BatchId { get; set; }

    /// <summary>The tool a <see cref="LedgerEntryKind.Tool"/> entry charged for (<c>web_search</c>, <c>linear__create_issue</c>); null otherwise.</summary>
    public string? Tool { get; set; }

    public string? Note { get; set; }

    /// <summary>An external object the entry comes from (for example a Stripe Checkout Session id).</summary>
    public string? ExternalReference { get; set; }

    /// <summary>A second external object (for example a Stripe PaymentIntent or Charge id).</summary>
    public string? ExternalPaymentId { get; set; }

    /// <summary>The external event that caused the entry (for example a Stripe event id); unique, so an event is applied at most once.</summary>
    public string? ExternalEventId { get; set; }
}
