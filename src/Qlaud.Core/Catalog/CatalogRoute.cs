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

    /// <summary>The upstream model as an encoded JSON string token, spliced into passthrough bodies.</summary>
    internal byte[] UpstreamModelJson { get; } = Forwarding.WireRequestScanner.EncodeModel(UpstreamModel);
}
