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

    /// <summary>The upstream model as an encoded JSON string token, spliced into passthrough bodies.</summary>
    internal byte[] UpstreamModelJson { get; } = Forwarding.WireRequestScanner.EncodeModel(UpstreamModel);
}
