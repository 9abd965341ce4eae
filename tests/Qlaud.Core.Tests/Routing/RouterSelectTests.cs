using Qlaud.Routing;

namespace Qlaud.Core.Tests.Routing;

public sealed class RouterSelectTests
{
    private readonly RoutingFixture _f = new(RoutingFixture.Options());

    private static RequestTraits Traits(long input = 100, long? maxTokens = null, bool tools = false) => new(tools, input, input * 2 / 3, maxTokens);

    private string[] Names(string model, RoutingRequest? routing = null, RequestTraits? traits = null)
    {
        var selection = _f.Router.Select(model, routing, traits ?? Traits());
        Assert.Null(selection.Error);
        return [.. selection.Candidates.Select(static r => r.Name)];
    }

    [Fact]
    public void Select_PlainRequest_PrecomputedPriorityListWithoutAllocating()
    {
        var first = _f.Router.Select("m", null, Traits());
        var second = _f.Router.Select("m", null, Traits());
        Assert.Equal(["a/m-a", "b/m-b", "c/m-c"], first.Candidates.Select(static r => r.Name));
        Assert.Same(first.Candidates, second.Candidates);
    }

    [Fact]
    public void Select_FloorInputHeavy_CheapInputRouteFirst()
        => Assert.Equal(["a/m-a", "b/m-b", "c/m-c"], Names("m:floor", traits: Traits(input: 100_000, maxTokens: 10)));

    [Fact]
    public void Select_FloorOutputHeavy_CheapOutputRouteFirst()
        => Assert.Equal(["b/m-b", "a/m-a", "c/m-c"], Names("m:floor", traits: Traits(input: 10, maxTokens: 4_000)));

    [Fact]
    public void Select_FloorWithoutMaxTokens_UsesExpectedOutputTokens()
    {
        // 500 expected output tokens against 100 input: a costs 100 + 10,000, b 1,000 + 1,000 (micro-USD millionths).
        Assert.Equal("b/m-b", Names("m:floor", traits: Traits(input: 100))[0]);
    }

    [Fact]
    public void Select_Nitro_HighestMeasuredThroughputFirstThenUnmeasuredInPriorityOrder()
    {
        _f.Health.Get(_f.Route("b/m-b")).Statistics.RecordSuccess(TimeSpan.FromMilliseconds(300), 200, TimeSpan.FromSeconds(4)); // 50 tokens/s
        _f.Health.Get(_f.Route("c/m-c")).Statistics.RecordSuccess(TimeSpan.FromMilliseconds(300), 400, TimeSpan.FromSeconds(2)); // 200 tokens/s

        Assert.Equal(["c/m-c", "b/m-b", "a/m-a"], Names("m:nitro"));
    }

    [Fact]
    public void Select_NitroWithoutData_PriorityOrder()
        => Assert.Equal(["a/m-a", "b/m-b", "c/m-c"], Names("m:nitro"));

    [Fact]
    public void Select_NitroAfterWindow_OldMeasurementsForgotten()
    {
        _f.Health.Get(_f.Route("c/m-c")).Statistics.RecordSuccess(TimeSpan.FromMilliseconds(300), 400, TimeSpan.FromSeconds(2));
        _f.Clock.Advance(TimeSpan.FromSeconds(301));
        Assert.Equal(["a/m-a", "b/m-b", "c/m-c"], Names("m:nitro"));
    }

    [Fact]
    public void Select_SortLatency_LowestMedianTimeToFirstTokenFirst()
    {
        _f.Health.Get(_f.Route("a/m-a")).Statistics.RecordSuccess(TimeSpan.FromMilliseconds(900), 10, TimeSpan.FromSeconds(1));
        _f.Health.Get(_f.Route("b/m-b")).Statistics.RecordSuccess(TimeSpan.FromMilliseconds(120), 10, TimeSpan.FromSeconds(1));
        var routing = new RoutingRequest { Provider = new ProviderPreferences { Sort = ProviderSort.Latency } };
        Assert.Equal(["b/m-b", "a/m-a", "c/m-c"], Names("m", routing));
    }

    [Fact]
    public void Select_ProviderOrder_NamedProvidersFirstThenTheRest()
        => Assert.Equal(["c/m-c", "b/m-b", "a/m-a"], Names("m", new RoutingRequest { Provider = new ProviderPreferences { Order = ["C", "b"] } }));

    [Fact]
    public void Select_ProviderOrderWithoutFallbacks_OnlyNamedProviders()
        => Assert.Equal(["c/m-c"], Names("m", new RoutingRequest { Provider = new ProviderPreferences { Order = ["c", "nobody"], AllowFallbacks = false } }));

    [Fact]
    public void Select_NoFallbacksWithoutOrder_OnlyTheFirstRoute()
        => Assert.Equal(["b/m-b"], Names("m", new RoutingRequest { Provider = new ProviderPreferences { Sort = ProviderSort.Price, AllowFallbacks = false } }, Traits(10, 4_000)));

    [Fact]
    public void Select_OnlyAndIgnore_FilterProviders()
    {
        Assert.Equal(["a/m-a", "c/m-c"], Names("m", new RoutingRequest { Provider = new ProviderPreferences { Only = ["a", "c"] } }));
        Assert.Equal(["b/m-b"], Names("m", new RoutingRequest { Provider = new ProviderPreferences { Ignore = ["a", "c"] } }));
    }

    [Fact]
    public void Select_MaxPrice_ExcludesDearerRoutes()
        => Assert.Equal(["b/m-b"], Names("m", new RoutingRequest { Provider = new ProviderPreferences { MaxPromptPrice = 10m, MaxCompletionPrice = 5m } }));

    [Fact]
    public void Select_EveryRouteExcluded_400NamingEachReason()
    {
        var selection = _f.Router.Select("m", new RoutingRequest { Provider = new ProviderPreferences { MaxPromptPrice = 0.5m } }, Traits());
        Assert.Empty(selection.Candidates);
        Assert.Equal(400, selection.Error!.StatusCode);
        Assert.Equal(RouteSelection.UnsuitableCode, selection.Error.Code);
        Assert.Contains("a/m-a charges $1 per million input tokens, over provider.max_price.prompt", selection.Error.Message, StringComparison.Ordinal);
        Assert.Contains("c/m-c", selection.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_Models_RoutesOfEachModelInOrderWithoutDuplicates()
        => Assert.Equal(["c/p-c", "a/m-a", "b/m-b", "c/m-c"], Names("plain", new RoutingRequest { Models = ["m", "plain"] }));

    [Fact]
    public void Select_ModelsWithoutModel_FirstOfModelsIsPrimary()
        => Assert.Equal(["c/p-c", "a/m-a"], Names("", new RoutingRequest { Models = ["plain", "m"], Provider = new ProviderPreferences { Ignore = ["b"], Only = ["a", "c"], Order = ["a"] } }).Take(2).ToArray());

    [Fact]
    public void Select_UnknownFallbackModel_400NamingIt()
    {
        var selection = _f.Router.Select("m", new RoutingRequest { Models = ["m", "nope"] }, Traits());
        Assert.Equal(400, selection.Error!.StatusCode);
        Assert.Contains("models[1]", selection.Error.Message, StringComparison.Ordinal);
        Assert.Contains("'nope'", selection.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_ToolsOnRouteWithoutTools_SkipsToRouteThatCan()
        => Assert.Equal(["b/t-b"], Names("tooled", traits: Traits(tools: true)));

    [Fact]
    public void Select_ToolsOnModelWithoutTools_FallbackModelServes()
        => Assert.Equal(["b/t-b"], Names("plain", new RoutingRequest { Models = ["tooled"] }, Traits(tools: true)));

    [Fact]
    public void Select_ToolsAndNoRouteCan_400SayingWhy()
    {
        var selection = _f.Router.Select("plain", null, Traits(tools: true));
        Assert.Equal(400, selection.Error!.StatusCode);
        Assert.Equal("No route can serve this request: c/p-c does not support tools.", selection.Error.Message);
    }

    [Fact]
    public void Select_InputOverContextLength_400SayingWhy()
    {
        var selection = _f.Router.Select("plain", null, Traits(input: 3_000));
        Assert.Equal(400, selection.Error!.StatusCode);
        Assert.Contains("context length of 1000 tokens", selection.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_InputOverContextLength_FallbackModelServes()
        => Assert.Equal(["a/m-a", "b/m-b", "c/m-c"], Names("plain", new RoutingRequest { Models = ["m"] }, Traits(input: 3_000)));

    [Fact]
    public void Select_ConfiguredModelWithoutCapabilities_ToolsAllowed()
    {
        var options = RoutingFixture.Options();
        options.Models[2].Capabilities = null;
        var router = new RoutingFixture(options).Router;
        Assert.Equal(["c/p-c"], router.Select("plain", null, Traits(tools: true)).Candidates.Select(static r => r.Name));
    }
}
