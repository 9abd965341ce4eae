using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Routing;

namespace Qlaud.Core.Tests.Routing;

public sealed class RoutingRequestTests
{
    private static (string? Error, RoutingRequest? Request) Parse(string? models, string? provider)
    {
        string? error = RoutingRequest.Parse(models is null ? default : Encoding.UTF8.GetBytes(models), provider is null ? default : Encoding.UTF8.GetBytes(provider), out var request);
        return (error, request);
    }

    [Fact]
    public void Parse_OpenRouterProviderObject_EveryField()
    {
        var (error, request) = Parse("""["b","c"]""", """{"order":["x","y"],"only":["x"],"ignore":["z"],"sort":"throughput","allow_fallbacks":false,"max_price":{"prompt":1.5,"completion":"2","request":0.1},"data_collection":"deny"}""");

        Assert.Null(error);
        Assert.Equal(["b", "c"], request!.Models);
        var p = request.Provider!;
        Assert.Equal(["x", "y"], p.Order!);
        Assert.Equal(["x"], p.Only!);
        Assert.Equal(["z"], p.Ignore!);
        Assert.Equal(ProviderSort.Throughput, p.Sort);
        Assert.False(p.AllowFallbacks);
        Assert.Equal(1.5m, p.MaxPromptPrice);
        Assert.Equal(2m, p.MaxCompletionPrice);
    }

    [Theory]
    [InlineData("""["a",1]""", null, "'models' must be an array of model ids.")]
    [InlineData(null, """{"sort":"fastest"}""", "'provider.sort' must be one of")]
    [InlineData(null, """{"order":"x"}""", "'provider.order' must be an array of provider names.")]
    [InlineData(null, """{"allow_fallbacks":"no"}""", "'provider.allow_fallbacks' must be a boolean.")]
    [InlineData(null, """{"max_price":{"prompt":-1}}""", "'provider.max_price.prompt' must be a number")]
    public void Parse_Malformed_MessageNamesTheField(string? models, string? provider, string expected)
    {
        var (error, _) = Parse(models, provider);
        Assert.NotNull(error);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void FromChatOptions_TypedAndJson_SameMeaning()
    {
        var typed = RoutingRequest.FromChatOptions(new ChatOptions
        {
            AdditionalProperties = new()
            {
                [QlaudChatOptions.Models] = new[] { "b" },
                [QlaudChatOptions.Provider] = new ProviderPreferences { Sort = ProviderSort.Price, Ignore = ["z"] },
            },
        })!;
        using var provider = JsonDocument.Parse("""{"sort":"price","ignore":["z"]}""");
        using var models = JsonDocument.Parse("""["b"]""");
        var json = RoutingRequest.FromChatOptions(new ChatOptions
        {
            AdditionalProperties = new() { [QlaudChatOptions.Models] = models.RootElement, [QlaudChatOptions.Provider] = provider.RootElement },
        })!;

        Assert.Equal(typed.Models, json.Models);
        Assert.Equal(typed.Provider!.Sort, json.Provider!.Sort);
        Assert.Equal(typed.Provider.Ignore!, json.Provider.Ignore!);
    }

    [Fact]
    public void FromChatOptions_NoKeys_Null()
        => Assert.Null(RoutingRequest.FromChatOptions(new ChatOptions { AdditionalProperties = new() { ["other"] = 1 } }));

    [Fact]
    public void FromChatOptions_WrongType_ArgumentException()
        => Assert.Throws<ArgumentException>(() => RoutingRequest.FromChatOptions(new ChatOptions { AdditionalProperties = new() { [QlaudChatOptions.Provider] = 42 } }));
}
