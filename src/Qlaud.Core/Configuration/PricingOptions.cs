namespace Qlaud.Configuration;

/// <summary>The <c>Qlaud:Pricing</c> section.</summary>
public sealed class PricingOptions
{
    /// <summary>Percent added to the upstream cost to give the charged cost (0 = charge upstream cost). Must be ≥ 0.</summary>
    public decimal MarkupPercent { get; set; }
}
