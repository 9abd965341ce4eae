using System.Net;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Fakes;
using Qlaud.FakeProvider;

namespace Qlaud.Connectors.Tests.Tools;

/// <summary>Anthropic's <c>mcp_servers</c> on <c>POST /v1/messages</c>, for a model behind an OpenAI-dialect provider, and the
/// SSRF guard that refuses private addresses unless <c>Qlaud:Connectors:AllowPrivateNetworks</c>.</summary>
public sealed class McpServersParameterTests
{
    private const string Key = "lin_api_request_0123456789";

    [Fact]
    public async Task McpServers_OnAnyModel_ToolsRunServerSideWithTheRequestsToken()
    {
        await using var linear = await FakeMcpServer.StartAsync("Linear", Key);
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Connectors:AllowPrivateNetworks"] = "true" });
        gateway.Fake.Enqueue(FakeReply.ToolCall("linear__create_issue", """{"title":"From mcp_servers"}""", "call_1"), FakeReply.Text("Filed."));
        using var http = gateway.Http();

        var (status, answer) = await http.PostJsonAsync("/v1/messages", Body(linear.Endpoint));

        Assert.Equal(HttpStatusCode.OK, status);
        var blocks = answer.GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(["mcp_tool_use", "mcp_tool_result", "text"], blocks.Select(static b => b.GetProperty("type").GetString()));
        Assert.Equal(("create_issue", "linear"), (blocks[0].GetProperty("name").GetString(), blocks[0].GetProperty("server_name").GetString()));
        Assert.False(blocks[1].GetProperty("is_error").GetBoolean());
        var call = Assert.Single(linear.Calls);
        Assert.Equal(Key, call.Key);
        Assert.Contains("From mcp_servers", call.ArgumentsJson, StringComparison.Ordinal);
        Assert.DoesNotContain("mcp_servers", gateway.Fake.Requests[0].BodyText, StringComparison.Ordinal);
        Assert.Contains("linear__create_issue", gateway.Fake.Requests[0].BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task McpServers_OnALoopbackAddress_AreRefusedByDefault()
    {
        await using var linear = await FakeMcpServer.StartAsync("Linear", Key);
        await using var gateway = await GatewayHost.StartAsync();
        using var http = gateway.Http();

        var (status, answer) = await http.PostJsonAsync("/v1/messages", Body(linear.Endpoint));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", answer.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("private", answer.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, linear.Refused + linear.Calls.Count); // nothing reached the server
        Assert.Empty(gateway.Fake.Requests);
    }

    private static string Body(Uri server) => $$"""
        {"model":"fake-gpt","max_tokens":256,"messages":[{"role":"user","content":"File a ticket"}],
         "mcp_servers":[{"type":"url","url":"{{server.AbsoluteUri}}","name":"linear","authorization_token":"{{Key}}"}]}
        """;
}
