using System.Net;
using System.Text.Json;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.Connectors.Tests.Tools;

/// <summary>An operator's local MCP server (<c>Qlaud:Connectors:Servers:{id}:Command</c>, stdio): a real process (python3 running
/// <c>Fakes/stdio_mcp_server.py</c>) started per session, its tools called from a thread turn, and an end user's credential handed
/// to it in its environment only.</summary>
public sealed class StdioConnectorTests : IAsyncLifetime
{
    private readonly string _log = Path.Combine(Path.GetTempPath(), $"qlaud-stdio-{Guid.NewGuid():N}.jsonl");
    private GatewayHost _gateway = null!;

    private static string Script => Path.Combine(AppContext.BaseDirectory, "Fakes", "stdio_mcp_server.py");

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
    {
        ["Qlaud:Connectors:Servers:calc:Name"] = "Calculator",
        ["Qlaud:Connectors:Servers:calc:Description"] = "A local calculator.",
        ["Qlaud:Connectors:Servers:calc:Command"] = "python3",
        ["Qlaud:Connectors:Servers:calc:Arguments:0"] = Script,
        ["Qlaud:Connectors:Servers:calc:Arguments:1"] = _log,
        ["Qlaud:Connectors:Servers:keyed:Name"] = "Keyed local tool",
        ["Qlaud:Connectors:Servers:keyed:Command"] = "python3",
        ["Qlaud:Connectors:Servers:keyed:Arguments:0"] = Script,
        ["Qlaud:Connectors:Servers:keyed:Arguments:1"] = _log,
        ["Qlaud:Connectors:Servers:keyed:Auth:Kind"] = "api_key",
    });

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        File.Delete(_log);
    }

    [Fact]
    public async Task ThreadTurn_CallsALocalStdioServersTool()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = _gateway.Http(alice);
        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        _gateway.Fake.Enqueue(
            FakeReply.ToolCall("qlaud_multi_execute", """{"calls":[{"tool":"calc__add","arguments":{"a":2,"b":3}}]}""", "toolu_add"),
            FakeReply.Text("2 + 3 = 5"));

        var (status, reply) = await http.PostJsonAsync($"/v1/threads/{thread.GetProperty("id").GetString()}/messages", """{"max_tokens":64,"tools_mode":"dynamic","content":"What is 2 + 3?"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var result = reply.GetProperty("content")[1];
        Assert.False(result.GetProperty("is_error").GetBoolean(), result.GetRawText());
        using var calls = JsonDocument.Parse(result.GetProperty("content")[0].GetProperty("text").GetString()!);
        Assert.Equal("5", calls.RootElement[0].GetProperty("content").GetString());
        var logged = Assert.Single(File.ReadAllLines(_log));
        Assert.Contains("\"tool\": \"add\"", logged, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyedStdioServer_GetsOnlyTheCallingEndUsersCredential_InItsEnvironment()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        var (_, bob) = await _gateway.MintKeyAsync("""{"end_user_id":"bob"}""");
        using (var aliceHttp = _gateway.Http(alice))
        {
            var (_, link) = await aliceHttp.PostJsonAsync("/v1/connections", """{"connector":"keyed"}""");
            using var browser = new ConnectBrowser();
            var (connectStatus, _) = await browser.ConnectAsync(new Uri(link.GetProperty("connect_url").GetString()!), "alice-local-secret");
            Assert.Equal(HttpStatusCode.OK, connectStatus);
        }

        async Task<JsonElement> WhoAmIAsync(string key)
        {
            using var http = _gateway.Http(key);
            var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
            _gateway.Fake.Enqueue(FakeReply.ToolCall("qlaud_multi_execute", """{"calls":[{"tool":"keyed__whoami","arguments":{}}]}""", "toolu_who"), FakeReply.Text("ok"));
            var (_, reply) = await http.PostJsonAsync($"/v1/threads/{thread.GetProperty("id").GetString()}/messages", """{"max_tokens":64,"tools_mode":"dynamic","content":"Who am I?"}""");
            return reply.GetProperty("content")[1];
        }

        var aliceResult = await WhoAmIAsync(alice);
        Assert.False(aliceResult.GetProperty("is_error").GetBoolean());
        Assert.Contains("alice-local-secret", aliceResult.GetProperty("content")[0].GetProperty("text").GetString(), StringComparison.Ordinal);

        var bobResult = await WhoAmIAsync(bob);
        Assert.True(bobResult.GetProperty("is_error").GetBoolean());
        Assert.DoesNotContain("alice-local-secret", bobResult.GetRawText(), StringComparison.Ordinal);
        Assert.Contains("not connected", bobResult.GetProperty("content")[0].GetProperty("text").GetString(), StringComparison.Ordinal);
    }
}
