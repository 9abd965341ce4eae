using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;
using Qlaud.AspNetCore.Tests.Infrastructure;

namespace Qlaud.AspNetCore.Tests;

public sealed class HostingTests
{
    [Fact]
    public async Task MapQlaud_WithoutAddQlaud_ClearInvalidOperationException()
    {
        var builder = WebApplication.CreateSlimBuilder();
        await using var app = builder.Build();
        var ex = Assert.Throws<InvalidOperationException>(() => app.MapQlaud());
        Assert.Contains("AddQlaud()", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Qlaud:Providers:local:BaseUrl", "not a url", "Qlaud:Providers:local:BaseUrl")]
    [InlineData("Qlaud:Models:0:Routes:0:Provider", "nobody", "Qlaud:Models:0:Routes:0:Provider 'nobody'")]
    [InlineData("Qlaud:Pricing:MarkupPercent", "-5", "Qlaud:Pricing:MarkupPercent")]
    [InlineData("Qlaud:Bootstrap:MasterKey", "short", "Qlaud:Bootstrap:MasterKey")]
    [InlineData("Qlaud:Routing:MaxRetries", "11", "Qlaud:Routing:MaxRetries must be between 0 and 10, not 11.")]
    [InlineData("Qlaud:Routing:BreakerFailureRatio", "1.5", "Qlaud:Routing:BreakerFailureRatio must be greater than 0 and at most 1")]
    [InlineData("Qlaud:Providers:fake:IdleTimeoutSeconds", "0", "Qlaud:Providers:fake:IdleTimeoutSeconds must be greater than 0")]
    [InlineData("Qlaud:Providers:fake:ConnectTimeoutSeconds", "-1", "Qlaud:Providers:fake:ConnectTimeoutSeconds must be greater than 0")]
    public async Task Start_BadConfiguration_DoesNotStartAndNamesTheKey(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string?> { [key] = value };
        if (key.StartsWith("Qlaud:Providers:local", StringComparison.Ordinal))
        {
            settings["Qlaud:Providers:local:Dialect"] = "openai";
        }

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(settings: settings));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_MalformedPrice_BinderErrorNamesTheKey()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Models:0:Routes:0:InputPerMTok"] = "cheap" }));
        Assert.Contains("Qlaud:Models:0:Routes:0:InputPerMTok 'cheap' is not a number", ex.Message, StringComparison.Ordinal);
    }
}
