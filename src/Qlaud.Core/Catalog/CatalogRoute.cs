namespace Qlaud.Catalog;

/// <summary>One way to serve a model: a provider, the provider's id for it, and its prices.</summary>
/// <param name="ModelId">The catalog model id.</param>
/// <param name="Provider">The provider.</param>
/// <param name="UpstreamModel">The id the provider expects in <c>model</c>.</param>
/// <param name="Price">Prices in micro-USD per million tokens.</param>
public sealed record CatalogRoute(string ModelId, CatalogProvider Provider, string UpstreamModel, ModelPrice Price)
{
    /// <summary>A stable name for the route, <c>provider/upstream-model</c>, reported in <c>x-qlaud-route</c>.</summary>
    public string Name { get; } = Provider.Name + "/" + UpstreamModel;

    /// <summary>The context length in tokens this route serves (the model's unless the route overrides it).</summary>
    public int ContextLength { get; init; } = int.MaxValue;

    /// <summary>What this route can do (the model's capabilities unless the route overrides them).</summary>
    public ModelCapabilities Capabilities { get; init; }

    /// <summary>Whether <see cref="Capabilities"/> were declared; a model configured without a capability list is not
    /// turned away for lacking one.</summary>
    public bool CapabilitiesDeclared { get; init; }

    /// <summary>The percent taken off <see cref="Price"/> for requests run through the provider's own batch API; 0 when it has none.</summary>
    public decimal BatchDiscountPercent { get; init; }

    /// <summary>The route's prices for requests run through the provider's batch API: <see cref="Price"/> less <see cref="BatchDiscountPercent"/>, rounded up.</summary>
    /// <remarks>The long-context tier is discounted the same way.</remarks>
    public ModelPrice BatchPrice => BatchDiscountPercent == 0 ? Price : Discount(Price) with
    {
        LongContext = Price.LongContext is { } tier ? tier with { Price = Discount(tier.Price) } : null,
    };

    private ModelPrice Discount(ModelPrice price) => new(Discount(price.InputMicrosPerMTok), Discount(price.OutputMicrosPerMTok),
        Discount(price.CacheReadMicrosPerMTok), Discount(price.CacheWriteMicrosPerMTok));

    private long Discount(long micros) => (long)Math.Ceiling(micros * (100m - BatchDiscountPercent) / 100m);

    /// <summary>The upstream model as an encoded JSON string token, spliced into passthrough bodies.</summary>

    internal byte[] UpstreamModelJson { get; } = Forwarding.WireRequestScanner.EncodeModel(UpstreamModel);
}
