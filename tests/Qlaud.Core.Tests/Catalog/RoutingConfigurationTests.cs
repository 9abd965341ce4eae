using Qlaud.Catalog;
using Qlaud.Configuration;

namespace Qlaud.Core.Tests.Catalog;

/// <summary>Retry, timeout and breaker settings: defaults, provider overrides, and start-up errors that name the key.</summary>
public sealed class RoutingConfigurationTests
{
    private static QlaudOptions Options(ProviderOptions? local = null) => new()
    {
        UseBuiltInCatalog = false,
        Providers = { ["local"] = local ?? new ProviderOptions { Dialect = "openai", BaseUrl = "http://127.0.0.1:9/v1" } },
    };

    private static List<string> Errors(QlaudOptions options)
    {
        var errors = new List<string>();
        CatalogBuilder.ValidateRouting(options.Routing, errors);
        errors.AddRange(CatalogBuilder.Build(options, static _ => null).Errors);
        return errors;
    }

    [Fact]
    public void Build_ProviderWithoutSettings_RoutingDefaults()
    {
        var options = Options();
        options.Routing.ConnectTimeoutSeconds = 3;
        options.Routing.IdleTimeoutSeconds = 7;
        options.Routing.MaxRetries = 2;
        var provider = CatalogBuilder.Build(options, static _ => null).Catalog!.Providers["local"];

        Assert.Equal(TimeSpan.FromSeconds(3), provider.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(120), provider.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(7), provider.IdleTimeout);
        Assert.Equal(2, provider.MaxRetries);
    }

    [Fact]
    public void Build_ProviderSettings_OverrideDefaults()
    {
        var provider = CatalogBuilder.Build(Options(new ProviderOptions
        {
            Dialect = "openai",
            BaseUrl = "http://127.0.0.1:9/v1",
            ConnectTimeoutSeconds = 1.5,
            FirstByteTimeoutSeconds = 30,
            IdleTimeoutSeconds = 5,
            MaxRetries = 0,
        }), static _ => null).Catalog!.Providers["local"];

        Assert.Equal(TimeSpan.FromSeconds(1.5), provider.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), provider.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(5), provider.IdleTimeout);
        Assert.Equal(0, provider.MaxRetries);
    }

    [Fact]
    public void Build_TimeoutSecondsAlias_IsTheFirstByteTimeout()
    {
        var provider = CatalogBuilder.Build(Options(new ProviderOptions { Dialect = "openai", BaseUrl = "http://127.0.0.1:9/v1", TimeoutSeconds = 45 }), static _ => null).Catalog!.Providers["local"];
        Assert.Equal(TimeSpan.FromSeconds(45), provider.Timeout);
    }

    [Fact]
    public void Build_RouteOverridesContextAndCapabilities()
    {
        var options = Options();
        options.Models.Add(new ModelOptions
        {
            Id = "m",
            ContextLength = 200_000,
            Capabilities = ["tools", "vision"],
            Routes =
            [
                new RouteOptions { Provider = "local", UpstreamModel = "short", InputPerMTok = 1, OutputPerMTok = 1, ContextLength = 8_192, Capabilities = ["vision"] },
                new RouteOptions { Provider = "local", UpstreamModel = "full", InputPerMTok = 1, OutputPerMTok = 1 },
            ],
        });
        var routes = CatalogBuilder.Build(options, static _ => null).Catalog!.Models.Single(static m => m.Id == "m").Routes;

        Assert.Equal(8_192, routes[0].ContextLength);
        Assert.Equal(ModelCapabilities.Vision, routes[0].Capabilities);
        Assert.Equal(200_000, routes[1].ContextLength);
        Assert.Equal(ModelCapabilities.Tools | ModelCapabilities.Vision, routes[1].Capabilities);
        Assert.True(routes[1].CapabilitiesDeclared);
    }

    [Theory]
    [InlineData("MaxRetries", "Qlaud:Routing:MaxRetries must be between 0 and 10, not 11.")]
    [InlineData("ConnectTimeoutSeconds", "Qlaud:Routing:ConnectTimeoutSeconds must be greater than 0")]
    [InlineData("FirstByteTimeoutSeconds", "Qlaud:Routing:FirstByteTimeoutSeconds must be greater than 0")]
    [InlineData("IdleTimeoutSeconds", "Qlaud:Routing:IdleTimeoutSeconds must be greater than 0")]
    [InlineData("BreakerFailureRatio", "Qlaud:Routing:BreakerFailureRatio must be greater than 0 and at most 1, not 0.")]
    [InlineData("BreakerMinimumThroughput", "Qlaud:Routing:BreakerMinimumThroughput must be at least 2, not 1.")]
    [InlineData("BreakerBreakSeconds", "Qlaud:Routing:BreakerBreakSeconds must be at least 0.5")]
    [InlineData("BreakerSamplingSeconds", "Qlaud:Routing:BreakerSamplingSeconds must be at least 0.5")]
    [InlineData("MaxRetryDelaySeconds", "Qlaud:Routing:MaxRetryDelaySeconds must be at least Qlaud:Routing:RetryBaseDelaySeconds")]
    [InlineData("ExpectedOutputTokens", "Qlaud:Routing:ExpectedOutputTokens must be at least 1")]
    public void ValidateRouting_BadValue_MessageNamesTheKey(string key, string expected)
    {
        var options = Options();
        var routing = options.Routing;
        switch (key)
        {
            case "MaxRetries": routing.MaxRetries = 11; break;
            case "ConnectTimeoutSeconds": routing.ConnectTimeoutSeconds = 0; break;
            case "FirstByteTimeoutSeconds": routing.FirstByteTimeoutSeconds = -1; break;
            case "IdleTimeoutSeconds": routing.IdleTimeoutSeconds = 0; break;
            case "BreakerFailureRatio": routing.BreakerFailureRatio = 0; break;
            case "BreakerMinimumThroughput": routing.BreakerMinimumThroughput = 1; break;
            case "BreakerBreakSeconds": routing.BreakerBreakSeconds = 0.1; break;
            case "BreakerSamplingSeconds": routing.BreakerSamplingSeconds = 0; break;
            case "MaxRetryDelaySeconds": routing.MaxRetryDelaySeconds = 0.1; break;
            case "ExpectedOutputTokens": routing.ExpectedOutputTokens = 0; break;
        }

        Assert.Contains(Errors(options), e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("ConnectTimeoutSeconds", "Qlaud:Providers:local:ConnectTimeoutSeconds must be greater than 0")]
    [InlineData("FirstByteTimeoutSeconds", "Qlaud:Providers:local:FirstByteTimeoutSeconds must be greater than 0")]
    [InlineData("TimeoutSeconds", "Qlaud:Providers:local:TimeoutSeconds must be greater than 0")]
    [InlineData("IdleTimeoutSeconds", "Qlaud:Providers:local:IdleTimeoutSeconds must be greater than 0")]
    [InlineData("MaxRetries", "Qlaud:Providers:local:MaxRetries must be between 0 and 10, not -1.")]
    [InlineData("Both", "Qlaud:Providers:local:TimeoutSeconds is an alias of Qlaud:Providers:local:FirstByteTimeoutSeconds")]
    public void Build_BadProviderValue_MessageNamesTheKey(string key, string expected)
    {
        var provider = new ProviderOptions { Dialect = "openai", BaseUrl = "http://127.0.0.1:9/v1" };
        switch (key)
        {
            case "ConnectTimeoutSeconds": provider.ConnectTimeoutSeconds = 0; break;
            case "FirstByteTimeoutSeconds": provider.FirstByteTimeoutSeconds = -2; break;
            case "TimeoutSeconds": provider.TimeoutSeconds = 0; break;
            case "IdleTimeoutSeconds": provider.IdleTimeoutSeconds = -1; break;
            case "MaxRetries": provider.MaxRetries = -1; break;
            case "Both": provider.TimeoutSeconds = 10; provider.FirstByteTimeoutSeconds = 20; break;
        }

        Assert.Contains(Errors(Options(provider)), e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Build_BadRouteContextLength_MessageNamesTheKey()
    {
        var options = Options();
        options.Models.Add(new ModelOptions { Id = "m", Routes = [new RouteOptions { Provider = "local", InputPerMTok = 1, OutputPerMTok = 1, ContextLength = 0 }] });
        Assert.Contains("Qlaud:Models:0:Routes:0:ContextLength must be greater than 0.", Errors(options));
    }
}
