using System.Collections.Frozen;
using Qlaud.Catalog;

namespace Qlaud.Routing;

/// <summary>Turns a model slug (with an optional <c>:nitro</c> / <c>:floor</c> suffix) into the ordered routes to try.</summary>
/// <remarks>Plans for every model and variant are computed once when the catalog is built, so routing a request allocates nothing.</remarks>
internal sealed class Router
{
    private readonly FrozenDictionary<string, RoutePlan> _plans;
    private readonly FrozenDictionary<string, RoutePlan>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public Router(ModelCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        Catalog = catalog;
        var plans = new Dictionary<string, RoutePlan>(StringComparer.OrdinalIgnoreCase);
        foreach (var model in catalog.Models)
        {
            plans[model.Id] = Plan(model, RoutingVariant.Default);
            plans[model.Id + ":nitro"] = Plan(model, RoutingVariant.Nitro);
            plans[model.Id + ":floor"] = Plan(model, RoutingVariant.Floor);
        }

        _plans = plans.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _lookup = _plans.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public ModelCatalog Catalog { get; }

    /// <summary>Routes <paramref name="model"/>; the result carries an error for unknown or unavailable models.</summary>
    public RoutePlan Resolve(ReadOnlySpan<char> model)
    {
        if (_lookup.TryGetValue(model, out var plan))
        {
            return plan;
        }

        string name = model.ToString();
        string message = model.IsEmpty
            ? "The request names no model."
            : $"The model '{name}' does not exist in the Qlaud catalog. GET /v1/models lists the models this gateway serves.";
        return new RoutePlan(null, [], new QlaudError(QlaudErrorKind.NotFound, message, "model_not_found"));
    }

    private static RoutePlan Plan(CatalogModel model, RoutingVariant variant)
    {
        var available = new List<CatalogRoute>(model.Routes.Length);
        foreach (var route in model.Routes)
        {
            if (route.Provider.IsAvailable)
            {
                available.Add(route);
            }
        }

        if (available.Count == 0)
        {
            var providers = string.Join(", ", model.Routes.Select(static r => r.Provider.Name).Distinct());
            return new RoutePlan(model, [], new QlaudError(QlaudErrorKind.Unavailable,
                $"The model '{model.Id}' has no configured provider. Configure one of: {providers} " +
                "(for example Qlaud:Providers:<name>:ApiKey, or the provider's API key environment variable).",
                "provider_not_configured"));
        }

        if (variant == RoutingVariant.Floor)
        {
            // Cheapest first for a typical chat mix (3 input tokens per output token); the sort is stable, so ties keep priority order.
            available = [.. available.OrderBy(static r => (3 * r.Price.InputMicrosPerMTok) + r.Price.OutputMicrosPerMTok)];
        }

        return new RoutePlan(model, available, null);
    }
}
