using Qlaud.Catalog;

namespace Qlaud.Routing;

/// <summary>The outcome of routing a model slug: the model and its usable routes in the order to try them, or an error.</summary>
/// <param name="Model">The catalog model, when the slug named one.</param>
/// <param name="Candidates">Available routes, in the order to try (first = preferred).</param>
/// <param name="Error">Why the request cannot be routed; null on success.</param>
/// <param name="Variant">The routing variant the slug's suffix asked for.</param>
public sealed record RoutePlan(CatalogModel? Model, IReadOnlyList<CatalogRoute> Candidates, QlaudError? Error, RoutingVariant Variant = RoutingVariant.Default);
