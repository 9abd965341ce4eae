using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Qlaud.Catalog;
using Qlaud.Configuration;
using Qlaud.Routing;

namespace Qlaud.Core.Tests.Routing;

/// <summary>A catalog, route health and router on a fake clock, for routing tests without HTTP.</summary>
internal sealed class RoutingFixture
{
    public RoutingFixture(QlaudOptions options)
    {
        var (catalog, errors) = CatalogBuilder.Build(options, static _ => null);
        Assert.Empty(errors);
        Catalog = catalog!;
        Health = new RouteHealthRegistry(Catalog, options.Routing, Clock, NullLogger<RouteHealthRegistry>.Instance);
        Router = new Router(Catalog, Health);
        Policy = new AttemptPolicy(Health, NullLogger<AttemptPolicy>.Instance);
    }

    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));

    public ModelCatalog Catalog { get; }

    public RouteHealthRegistry Health { get; }

    public Router Router { get; }

    public AttemptPolicy Policy { get; }

    /// <summary>Providers a, b, c (openai dialect) and the models m (routes a, b, c), tooled (tools; routes a, b) and plain (no tools, context 1,000; route c).</summary>
    public static QlaudOptions Options(Action<RoutingOptions>? routing = null)
    {
        var options = new QlaudOptions
        {
            UseBuiltInCatalog = false,
            Providers =
            {
                ["a"] = new ProviderOptions { Dialect = "openai", BaseUrl = "http://127.0.0.1:1/v1", ApiKey = "k" },
                ["b"] = new ProviderOptions { Dialect = "openai", BaseUrl = "http://127.0.0.1:2/v1", ApiKey = "k" },
                ["c"] = new ProviderOptions { Dialect = "openai", BaseUrl = "http://127.0.0.1:3/v1", ApiKey = "k" },
            },
            Models =
            [
                new ModelOptions
                {
                    Id = "m",
                    Routes =
                    [
                        // a: cheap input, dear output; b: dear input, cheap output; c: dear both.
                        new RouteOptions { Provider = "a", UpstreamModel = "m-a", InputPerMTok = 1, OutputPerMTok = 20 },
                        new RouteOptions { Provider = "b", UpstreamModel = "m-b", InputPerMTok = 10, OutputPerMTok = 2 },
                        new RouteOptions { Provider = "c", UpstreamModel = "m-c", InputPerMTok = 30, OutputPerMTok = 30 },
                    ],
                },
                new ModelOptions
                {
                    Id = "tooled",
                    Capabilities = ["tools"],
                    Routes =
                    [
                        new RouteOptions { Provider = "a", UpstreamModel = "t-a", InputPerMTok = 1, OutputPerMTok = 1, Capabilities = [] },
                        new RouteOptions { Provider = "b", UpstreamModel = "t-b", InputPerMTok = 1, OutputPerMTok = 1 },
                    ],
                },
                new ModelOptions
                {
                    Id = "plain",
                    Capabilities = [],
                    ContextLength = 1_000,
                    Routes = [new RouteOptions { Provider = "c", UpstreamModel = "p-c", InputPerMTok = 1, OutputPerMTok = 1 }],
                },
            ],
        };
        routing?.Invoke(options.Routing);
        return options;
    }

    public CatalogRoute Route(string name)
    {
        foreach (var model in Catalog.Models)
        {
            foreach (var route in model.Routes)
            {
                if (route.Name == name)
                {
                    return route;
                }
            }
        }

        throw new InvalidOperationException($"No route {name}.");
    }
}
