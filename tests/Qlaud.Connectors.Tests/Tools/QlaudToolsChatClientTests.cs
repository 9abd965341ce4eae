using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Connections;
using Qlaud.Connectors.Tests.Fakes;
using Qlaud.FakeProvider;

namespace Qlaud.Connectors.Tests.Tools;

/// <summary><c>UseQlaudTools()</c> in an app's own pipeline: the meta-tools bound to the call's end user, executed by MEAI's
/// function invocation over Qlaud's in-process client.</summary>
public sealed class QlaudToolsChatClientTests
{
    [Fact]
    public async Task UseQlaudTools_OffersTheMetaToolsAndFunctionInvocationRunsThem()
    {
        await using var linear = await FakeMcpServer.StartAsync("Linear", "k_0123456789");
        await using var gateway = await GatewayHost.StartAsync(settings: ConnectFlowTests.LinearSettings(linear));
        var (_, alice) = await gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var chat = new ChatClientBuilder(gateway.Services.GetRequiredService<IChatClient>())
            .UseQlaudTools()
            .UseFunctionInvocation()
            .Build(gateway.Services);
        gateway.Fake.Enqueue(FakeReply.ToolCall("qlaud_search_tools", """{"intent":"linear issue"}""", "toolu_1"), FakeReply.Text("Linear can do it once you connect it."));

        var response = await chat.GetResponseAsync("File a Linear issue", new ChatOptions
        {
            ModelId = "fake-claude",
            AdditionalProperties = new() { [QlaudChatOptionKeys.ApiKey] = alice },
        });

        Assert.Equal("Linear can do it once you connect it.", response.Text);
        var requests = gateway.Fake.Requests;
        Assert.Equal(2, requests.Count);
        Assert.Contains("\"name\":\"qlaud_manage_connections\"", requests[0].BodyText, StringComparison.Ordinal);
        Assert.Contains("\"tool_result\"", requests[1].BodyText, StringComparison.Ordinal);
        Assert.Contains("connector_name", requests[1].BodyText, StringComparison.Ordinal); // the search result went back to the model
        Assert.Contains("Linear", requests[1].BodyText, StringComparison.Ordinal);
    }
}
