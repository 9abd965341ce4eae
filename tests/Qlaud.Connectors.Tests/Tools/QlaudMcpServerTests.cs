using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Connections;
using Qlaud.Connectors.Tests.Fakes;
using Qlaud.Connectors.Tests.Infrastructure;

namespace Qlaud.Connectors.Tests.Tools;

/// <summary>Qlaud as an MCP server at <c>/mcp</c>, driven by the official MCP client over real HTTP with a Qlaud key.</summary>
public sealed class QlaudMcpServerTests : IAsyncLifetime
{
    private const string AliceKey = "lin_api_alice_0123456789";

    private FakeMcpServer _linear = null!;
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        _linear = await FakeMcpServer.StartAsync("Linear", AliceKey);
        _gateway = await GatewayHost.StartAsync(settings: ConnectFlowTests.LinearSettings(_linear), services: static s => s.AddQlaud().AddQlaudMcpServer());
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _linear.DisposeAsync();
    }

    [Fact]
    public async Task Mcp_WithAnEndUsersKey_OffersTheMetaToolsAndExecutesWithTheirConnection()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        await using var client = await ConnectAsync(alice);

        var tools = await client.ListToolsAsync();
        Assert.Equal(["qlaud_get_tool_schemas", "qlaud_manage_connections", "qlaud_multi_execute", "qlaud_search_tools"], tools.Select(static t => t.Name).Order());

        var link = await client.CallToolAsync("qlaud_manage_connections", new Dictionary<string, object?> { ["action"] = "connect", ["connector"] = "linear" });
        Assert.NotEqual(true, link.IsError);
        string url;
        using (var json = JsonDocument.Parse(((TextContentBlock)link.Content[0]).Text))
        {
            url = json.RootElement.GetProperty("connect_url").GetString()!;
        }

        using (var browser = new ConnectBrowser())
        {
            Assert.Equal(HttpStatusCode.OK, (await browser.ConnectAsync(new Uri(url), AliceKey)).Status);
        }

        var created = await client.CallToolAsync("qlaud_multi_execute", new Dictionary<string, object?>
        {
            ["calls"] = JsonDocument.Parse("""[{"tool":"linear__create_issue","arguments":{"title":"From MCP"}}]""").RootElement,
        });
        Assert.NotEqual(true, created.IsError);
        Assert.Contains("ISS-1", ((TextContentBlock)created.Content[0]).Text, StringComparison.Ordinal);
        Assert.Equal(AliceKey, Assert.Single(_linear.Calls).Key);
    }

    [Fact]
    public async Task Mcp_WithoutAKey_IsRefused()
    {
        await Assert.ThrowsAnyAsync<Exception>(async () => await ConnectAsync(key: null));
        using var http = _gateway.Http(key: null);
        using var response = await http.PostAsync("/mcp", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private async Task<McpClient> ConnectAsync(string? key)
    {
        var headers = new Dictionary<string, string>();
        if (key is not null)
        {
            headers["Authorization"] = "Bearer " + key;
        }

        return await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(_gateway.BaseUri, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = headers,
        }));
    }
}
