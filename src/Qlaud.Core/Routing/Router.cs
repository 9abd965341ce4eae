using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using Qlaud.Catalog;
using Qlaud.Configuration;

namespace Qlaud.Routing;

/// <summary>
/// Turns a model slug (with an optional <c>:nitro</c> / <c>:floor</c> suffix), the request's fallback <c>models</c> and
/// <c>provider</c> preferences into the ordered routes to try.
/// </summary>
/// <remarks>
/// <para>Plans per model and variant (available routes in priority order) are computed once when the catalog is built; a
/// plain request whose routes can all serve it gets that plan without allocating.</para>
/// <para>Per request: <c>:floor</c> (or <c>sort: price</c>) orders by the cost of the request's expected token mix,
/// <c>:nitro</c> (or <c>sort: throughput</c>) by measured tokens/s and <c>sort: latency</c> by measured median time to
/// first token, routes without data following in priority order. Routes that cannot serve the request (tools on a model
/// without tool support, an input over the context length) or that the caller excluded are left out, and when none is
/// left the error says why for each. Open circuits are skipped later, by the attempt policy.</para>
/// </remarks>
internal sealed class Router
{
    private readonly FrozenDictionary<string, RoutePlan> _plans;
    private readonly FrozenDictionary<string, RoutePlan>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly RouteHealthRegistry? _health;
    private readonly int _expectedOutputTokens;

    public Router(ModelCatalog catalog, RouteHealthRegistry? health = null, RoutingOptions? routing = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        Catalog = catalog;
        _health = health;
        _expectedOutputTokens = (routing ?? health?.Routing ?? new RoutingOptions()).ExpectedOutputTokens;
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

    /// <summary>Routes <paramref name="model"/> alone, in its variant's static order; the result carries an error for unknown or unavailable models.</summary>
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

    /// <summary>The routes to try for a request: its model, then each of its fallback <c>models</c>, filtered and ordered.</summary>
    public RouteSelection Select(ReadOnlySpan<char> model, RoutingRequest? routing, in RequestTraits traits)
    {
        bool hasModel = !model.IsEmpty;
        var first = hasModel ? Resolve(model) : routing is { Models.Count: > 0 } ? Resolve(routing.Models[0]) : Resolve(model);
        if (first.Model is null)
        {
            return new RouteSelection([], first.Error);
        }

        if (KindMismatch(first.Model, traits, null) is { } kindError)
        {
            return new RouteSelection([], kindError);
        }

        // The common case: no preferences, priority order, every route able to serve. The precomputed list is the answer.
        if (routing is null && first.Variant == RoutingVariant.Default && first.Error is null && AllSuitable(first.Candidates, traits))
        {
            return new RouteSelection(first.Candidates, null);
        }

        var candidates = new List<CatalogRoute>(first.Candidates.Count + 2);
        List<string>? reasons = null;
        QlaudError? unavailable = null;
        int count = 1 + (routing?.Models.Count ?? 0);
        for (int m = hasModel ? 0 : 1; m < count; m++)
        {
            RoutePlan plan;
            if (m == 0 || (!hasModel && m == 1))
            {
                plan = first;
            }
            else
            {
                string slug = routing!.Models[m - 1];
                plan = Resolve(slug);
                if (plan.Model is null)
                {
                    return new RouteSelection([], new QlaudError(QlaudErrorKind.InvalidRequest,
                        $"models[{(m - 1).ToString(CultureInfo.InvariantCulture)}]: the model '{slug}' does not exist in the Qlaud catalog.", "model_not_found"));
                }

                if (KindMismatch(plan.Model, traits, $"models[{(m - 1).ToString(CultureInfo.InvariantCulture)}]: ") is { } fallbackKindError)
                {
                    return new RouteSelection([], fallbackKindError);
                }
            }

            if (plan.Error is not null)
            {
                unavailable ??= plan.Error; // no configured provider: a fallback model may still serve
                continue;
            }

            AddRoutes(plan, routing?.Provider, traits, candidates, ref reasons);
        }

        if (candidates.Count > 0)
        {
            return new RouteSelection(candidates, null);
        }

        if (reasons is null)
        {
            return new RouteSelection([], unavailable ?? first.Error);
        }

        var message = new StringBuilder("No route can serve this request:");
        for (int i = 0; i < reasons.Count; i++)
        {
            message.Append(i == 0 ? " " : "; ").Append(reasons[i]);
        }

        return new RouteSelection([], new QlaudError(QlaudErrorKind.InvalidRequest, message.Append('.').ToString(), RouteSelection.UnsuitableCode));
    }

    /// <summary>The error when a request names a model of another kind (chat, embedding, image) than it needs; null when the kinds match.</summary>
    internal static QlaudError? KindMismatch(CatalogModel model, in RequestTraits traits, string? prefix)
    {
        if (model.IsEmbedding == traits.Embeddings && model.IsImage == traits.Images)
        {
            return null;
        }

        string message = traits.Embeddings
            ? $"{prefix}The model '{model.Id}' is {(model.IsImage ? "an image" : "a chat")} model, not an embedding model. GET /v1/models marks embedding models with \"kind\": \"embedding\"."
            : traits.Images
                ? $"{prefix}The model '{model.Id}' is {(model.IsEmbedding ? "an embedding" : "a chat")} model, not an image model. GET /v1/models marks image models with \"kind\": \"image\"."
                : model.IsImage
                    ? $"{prefix}The model '{model.Id}' is an image model: send it to POST /v1/images/generations, not to a chat endpoint."
                    : $"{prefix}The model '{model.Id}' is an embedding model: send it to POST /v1/embeddings, not to a chat endpoint.";
        return new QlaudError(QlaudErrorKind.InvalidRequest, message, ModelKindCode);
    }

    /// <summary>The error code of <see cref="KindMismatch"/>.</summary>
    internal const string ModelKindCode = "model_not_supported";

    /// <summary>Why <paramref name="route"/> cannot serve a request with <paramref name="traits"/>, or null when it can.</summary>
    internal static string? Unsuitability(CatalogRoute route, in RequestTraits traits)
    {
        if (traits.HasTools && route.CapabilitiesDeclared && (route.Capabilities & ModelCapabilities.Tools) == 0)
        {
            return $"{route.Name} does not support tools";
        }

        if (traits.MinimumInputTokens > route.ContextLength)
        {
            return $"{route.Name} has a context length of {route.ContextLength.ToString(CultureInfo.InvariantCulture)} tokens and the request has at least {traits.MinimumInputTokens.ToString(CultureInfo.InvariantCulture)} input tokens";
        }

        return null;
    }

    private static bool AllSuitable(IReadOnlyList<CatalogRoute> routes, in RequestTraits traits)
    {
        for (int i = 0; i < routes.Count; i++)
        {
            if (Unsuitability(routes[i], traits) is not null)
            {
                return false;
            }
        }

        return true;
    }

    private void AddRoutes(RoutePlan plan, ProviderPreferences? provider, in RequestTraits traits, List<CatalogRoute> candidates, ref List<string>? reasons)
    {
        // Plans hold the available routes in priority order (Floor plans were pre-sorted for a typical mix; re-sorted below).
        var model = plan.Model!;
        var routes = new List<CatalogRoute>(model.Routes.Length);
        foreach (var route in model.Routes)
        {
            if (!route.Provider.IsAvailable)
            {
                continue;
            }

            if (Exclusion(route, provider) is { } excluded)
            {
                (reasons ??= []).Add(excluded);
            }
            else if (Unsuitability(route, traits) is { } unsuitable)
            {
                (reasons ??= []).Add(unsuitable);
            }
            else
            {
                routes.Add(route);
            }
        }

        var sort = provider?.Sort ?? plan.Variant switch
        {
            RoutingVariant.Floor => ProviderSort.Price,
            RoutingVariant.Nitro => ProviderSort.Throughput,
            _ => (ProviderSort?)null,
        };
        if (sort is { } by && routes.Count > 1)
        {
            Sort(routes, by, traits);
        }

        if (provider?.Order is { Count: > 0 } order)
        {
            // The named providers first, in the caller's order; the rest after them unless fallbacks are off.
            int placed = 0;
            for (int o = 0; o < order.Count; o++)
            {
                for (int r = placed; r < routes.Count; r++)
                {
                    if (string.Equals(routes[r].Provider.Name, order[o], StringComparison.OrdinalIgnoreCase))
                    {
                        var route = routes[r];
                        routes.RemoveAt(r);
                        routes.Insert(placed++, route);
                        break;
                    }
                }
            }

            if (!provider.AllowFallbacks)
            {
                routes.RemoveRange(placed, routes.Count - placed);
            }
        }
        else if (provider is { AllowFallbacks: false } && routes.Count > 1)
        {
            routes.RemoveRange(1, routes.Count - 1);
        }

        foreach (var route in routes)
        {
            if (!candidates.Contains(route))
            {
                candidates.Add(route);
            }
        }
    }

    private static string? Exclusion(CatalogRoute route, ProviderPreferences? provider)
    {
        if (provider is null)
        {
            return null;
        }

        string name = route.Provider.Name;
        if (provider.Only is { } only && !Contains(only, name))
        {
            return $"{route.Name} is not in provider.only";
        }

        if (provider.Ignore is { } ignore && Contains(ignore, name))
        {
            return $"{route.Name} is in provider.ignore";
        }

        if (provider.MaxPromptPrice is { } maxPrompt && route.Price.InputMicrosPerMTok > ModelPrice.MicrosFromUsd(maxPrompt))
        {
            return $"{route.Name} charges {Usd(route.Price.InputMicrosPerMTok)} per million input tokens, over provider.max_price.prompt";
        }

        if (provider.MaxCompletionPrice is { } maxCompletion && route.Price.OutputMicrosPerMTok > ModelPrice.MicrosFromUsd(maxCompletion))
        {
            return $"{route.Name} charges {Usd(route.Price.OutputMicrosPerMTok)} per million output tokens, over provider.max_price.completion";
        }

        return null;
    }

    private static string Usd(long micros) => "$" + (micros / 1_000_000m).ToString(CultureInfo.InvariantCulture);

    private static bool Contains(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (string.Equals(names[i], name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Stable insertion sort (route lists are short); routes without a measurement keep priority order after the measured ones.</summary>
    private void Sort(List<CatalogRoute> routes, ProviderSort by, in RequestTraits traits)
    {
        long output = traits.MaxOutputTokens ?? _expectedOutputTokens;
        Span<double> keys = routes.Count <= 32 ? stackalloc double[routes.Count] : new double[routes.Count];
        for (int i = 0; i < routes.Count; i++)
        {
            keys[i] = Key(routes[i], by, traits.EstimatedInputTokens, output);
        }

        for (int i = 1; i < routes.Count; i++)
        {
            var route = routes[i];
            double key = keys[i];
            int j = i - 1;
            while (j >= 0 && keys[j] > key)
            {
                routes[j + 1] = routes[j];
                keys[j + 1] = keys[j];
                j--;
            }

            routes[j + 1] = route;
            keys[j + 1] = key;
        }
    }

    private double Key(CatalogRoute route, ProviderSort by, long input, long output) => by switch
    {
        // Exact micro-USD millionths: rounding each cost up to a whole micro-USD would tie small requests.
        ProviderSort.Price => ((double)input * route.Price.InputMicrosPerMTok) + ((double)output * route.Price.OutputMicrosPerMTok),
        ProviderSort.Throughput => _health?.Get(route).Statistics.TokensPerSecond() is { } tps ? -tps : double.MaxValue,
        _ => _health?.Get(route).Statistics.MedianTimeToFirstTokenMs() is { } ms ? ms : double.MaxValue,
    };

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
                "provider_not_configured"), variant);
        }

        if (variant == RoutingVariant.Floor)
        {
            // The static order for a typical chat mix (3 input tokens per output token); requests re-sort for their own mix.
            available = [.. available.OrderBy(static r => (3 * r.Price.InputMicrosPerMTok) + r.Price.OutputMicrosPerMTok)];
        }

        return new RoutePlan(model, available.ToArray(), null, variant);
    }
}
