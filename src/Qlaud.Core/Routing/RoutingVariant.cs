namespace Qlaud.Routing;

/// <summary>How the router orders a model's routes, chosen by the slug's suffix.</summary>
public enum RoutingVariant
{
    /// <summary>No suffix: the catalog's priority order.</summary>
    Default,
    /// <summary><c>:nitro</c>: the route with the highest measured throughput first.</summary>
    Nitro,
    /// <summary><c>:floor</c>: the cheapest route first.</summary>
    Floor,
}
