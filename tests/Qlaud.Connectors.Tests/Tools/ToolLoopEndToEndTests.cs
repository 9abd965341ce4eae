using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Connections;
using Qlaud.Connectors.Tests.Fakes;
using Qlaud.Connectors.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Connectors.Tests.Tools;

/// <summary>qlaud.ai's example over real HTTP: "Create a Linear ticket" in a thread, with no tools array and no per-vendor code.
/// The fake provider's scripted model discovers Linear, asks for a connect link, the end user connects in a browser, and the
/// next turn's call lands in the fake Linear server with the end user's own key.</summary>
public sealed class ToolLoopEndToEndTests : IAsyncLifetime
{
    private const string AliceKey = "lin_api_alice_0123456789";

    private FakeMcpServer _linear = null!;
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        _linear = await FakeMcpServer.StartAsync("Linear", AliceKey);
        _gateway = await GatewayHost.StartAsync(settings: ConnectFlowTests.LinearSettings(_linear));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _linear.DisposeAsync();
    }

    [Fact]
    public async Task ThreadTurn_DiscoversLinear_ConnectsThroughTheLink_ThenCreatesTheIssueWithTheEndUsersKey()
    {
        var (aliceKeyId, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = _gateway.Http(alice);
        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        string threadId = thread.GetProperty("id").GetString()!;

        // Turn 1: the model searches, asks for a connect link and relays it.
        _gateway.Fake.Enqueue(
            FakeReply.ToolCall("qlaud_search_tools", """{"intent":"create a Linear ticket"}""", "toolu_search"),
            FakeReply.ToolCall("qlaud_manage_connections", """{"action":"connect","connector":"linear"}""", "toolu_connect"),
            FakeReply.Text("Please open the link to connect your Linear account."));
        var (status1, first) = await http.PostJsonAsync($"/v1/threads/{threadId}/messages",
            """{"max_tokens":512,"content":"Create a Linear ticket: 'Login button broken on Safari iOS'"}""");
        Assert.Equal(HttpStatusCode.OK, status1);
        var blocks = first.GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(["mcp_tool_use", "mcp_tool_result", "mcp_tool_use", "mcp_tool_result", "text"], blocks.Select(static b => b.GetProperty("type").GetString()));
        Assert.Equal("qlaud_search_tools", blocks[0].GetProperty("name").GetString());
        Assert.Equal("qlaud", blocks[0].GetProperty("server_name").GetString());
        Assert.Equal("create a Linear ticket", blocks[0].GetProperty("input").GetProperty("intent").GetString());
        Assert.Equal("toolu_search", blocks[1].GetProperty("tool_use_id").GetString());
        Assert.False(blocks[1].GetProperty("is_error").GetBoolean());
        using (var search = JsonDocument.Parse(blocks[1].GetProperty("content")[0].GetProperty("text").GetString()!))
        {
            var hit = search.RootElement.GetProperty("results").EnumerateArray().First();
            Assert.Equal("linear", hit.GetProperty("connector").GetString());
            Assert.False(hit.GetProperty("connected").GetBoolean());
        }

        string connectUrl;
        using (var connect = JsonDocument.Parse(blocks[3].GetProperty("content")[0].GetProperty("text").GetString()!))
        {
            connectUrl = connect.RootElement.GetProperty("connect_url").GetString()!;
        }

        Assert.StartsWith(_gateway.BaseUri.AbsoluteUri + "connect/", connectUrl, StringComparison.Ordinal);
        Assert.Equal("end_turn", first.GetProperty("stop_reason").GetString());
        Assert.DoesNotContain(AliceKey, first.GetRawText(), StringComparison.Ordinal);

        // The model was offered the four meta-tools and got each result back.
        var upstream = _gateway.Fake.Requests.Where(static r => r.Path.Contains("messages", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, upstream.Count);
        foreach (string name in (string[])["qlaud_search_tools", "qlaud_get_tool_schemas", "qlaud_multi_execute", "qlaud_manage_connections"])
        {
            Assert.Contains($"\"name\":\"{name}\"", upstream[0].BodyText, StringComparison.Ordinal);
        }

        Assert.Contains("toolu_connect", upstream[2].BodyText, StringComparison.Ordinal);
        Assert.Contains("connect_url", upstream[2].BodyText, StringComparison.Ordinal);

        // The end user connects in a browser.
        using var browser = new ConnectBrowser();
        var (connected, page) = await browser.ConnectAsync(new Uri(connectUrl), AliceKey);
        Assert.Equal(HttpStatusCode.OK, connected);
        Assert.Contains("Linear is connected", page, StringComparison.Ordinal);

        // Turn 2: the model creates the issue through qlaud_multi_execute.
        _gateway.Fake.ClearRequests();
        _gateway.Fake.Enqueue(
            FakeReply.ToolCall("qlaud_multi_execute", """{"calls":[{"tool":"linear__create_issue","arguments":{"title":"Login button broken on Safari iOS"}}]}""", "toolu_exec"),
            FakeReply.Text("Created ISS-1: Login button broken on Safari iOS."));
        var (status2, second) = await http.PostJsonAsync($"/v1/threads/{threadId}/messages", """{"max_tokens":512,"content":"I connected it."}""");
        Assert.Equal(HttpStatusCode.OK, status2);

        var call = Assert.Single(_linear.Calls, static c => c.Tool == "create_issue");
        Assert.Equal(AliceKey, call.Key);
        Assert.Contains("Login button broken on Safari iOS", call.ArgumentsJson, StringComparison.Ordinal);
        var reply = second.GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(["mcp_tool_use", "mcp_tool_result", "text"], reply.Select(static b => b.GetProperty("type").GetString()));
        Assert.Equal("qlaud_multi_execute", reply[0].GetProperty("name").GetString());
        Assert.False(reply[1].GetProperty("is_error").GetBoolean());
        Assert.Contains("ISS-1", reply[1].GetProperty("content")[0].GetProperty("text").GetString(), StringComparison.Ordinal);

        // The second turn's first request carried turn 1's tool calls back as tool_use/tool_result turns.
        var firstOfTurn2 = _gateway.Fake.Requests.First(static r => r.Path.Contains("messages", StringComparison.Ordinal)).BodyText;
        Assert.Contains("\"tool_result\"", firstOfTurn2, StringComparison.Ordinal);
        Assert.Contains("qlaud_manage_connections", firstOfTurn2, StringComparison.Ordinal);
        Assert.DoesNotContain("mcp_tool_use", firstOfTurn2, StringComparison.Ordinal);

        // Persisted in the thread: four messages, the replies with their MCP blocks.
        var (_, list) = await http.GetJsonAsync($"/v1/threads/{threadId}/messages?order=asc");
        var messages = list.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(4, messages.Count);
        Assert.Equal(5, messages[1].GetProperty("content").GetArrayLength());
        Assert.Equal("mcp_tool_result", messages[3].GetProperty("content")[1].GetProperty("type").GetString());
        Assert.True(messages[3].GetProperty("cost_micros").GetInt64() > 0);

        // Billed: every model round trip (3 + 2) is its own ledger entry of the end user's key; the connector call is counted at no charge.
        await _gateway.Services.GetRequiredService<LedgerWriter>().FlushAsync();
        var factory = _gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        var entries = await db.LedgerEntries.AsNoTracking().Where(e => e.KeyId == aliceKeyId).ToListAsync();
        var usage = entries.Where(static e => e.Kind == LedgerEntryKind.Usage).ToList();
        Assert.Equal(5, usage.Count);
        Assert.All(entries, static e => Assert.Equal("alice", e.EndUserId));
        Assert.All(usage, static e => Assert.True(e.AmountMicros != 0));
        var counted = Assert.Single(entries, static e => e.Kind == LedgerEntryKind.Tool);
        Assert.Equal("linear__create_issue", counted.Tool);
        Assert.Equal(0, counted.AmountMicros);
    }

    [Fact]
    public async Task AnotherEndUsersCall_NeverUsesAlicesConnection()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        var (_, bob) = await _gateway.MintKeyAsync("""{"end_user_id":"bob"}""");
        using (var aliceHttp = _gateway.Http(alice))
        {
            var (_, link) = await aliceHttp.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");
            using var browser = new ConnectBrowser();
            await browser.ConnectAsync(new Uri(link.GetProperty("connect_url").GetString()!), AliceKey);
        }

        using var bobHttp = _gateway.Http(bob);
        var (_, thread) = await bobHttp.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        _gateway.Fake.Enqueue(
            FakeReply.ToolCall("qlaud_multi_execute", """{"calls":[{"tool":"linear__create_issue","arguments":{"title":"from bob"}}]}""", "toolu_bob"),
            FakeReply.Text("Linear is not connected for you."));
        var (status, answer) = await bobHttp.PostJsonAsync($"/v1/threads/{thread.GetProperty("id").GetString()}/messages", """{"max_tokens":256,"content":"File a ticket"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var result = answer.GetProperty("content").EnumerateArray().Single(static b => b.GetProperty("type").GetString() == "mcp_tool_result");
        Assert.True(result.GetProperty("is_error").GetBoolean());
        Assert.Contains("not connected", result.GetProperty("content")[0].GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Empty(_linear.Calls);
    }

    [Fact]
    public async Task StaticMode_OffersTheConnectedToolsDirectly_AndNoneOffersNothing()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = _gateway.Http(alice);
        var (_, link) = await http.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");
        using (var browser = new ConnectBrowser())
        {
            await browser.ConnectAsync(new Uri(link.GetProperty("connect_url").GetString()!), AliceKey);
        }

        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        string id = thread.GetProperty("id").GetString()!;
        _gateway.Fake.Enqueue(
            FakeReply.ToolCall("linear__create_issue", """{"title":"Static"}""", "toolu_static"),
            FakeReply.Text("Done."));
        var (status, answer) = await http.PostJsonAsync($"/v1/threads/{id}/messages", """{"max_tokens":256,"content":"File it","tools_mode":"static"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var use = answer.GetProperty("content")[0];
        Assert.Equal(("mcp_tool_use", "create_issue", "linear"), (use.GetProperty("type").GetString(), use.GetProperty("name").GetString(), use.GetProperty("server_name").GetString()));
        Assert.True(_linear.Calls.Count == 1, answer.GetRawText());
        Assert.Equal(AliceKey, Assert.Single(_linear.Calls).Key);
        Assert.Contains("\"name\":\"linear__create_issue\"", _gateway.Fake.Requests[0].BodyText, StringComparison.Ordinal);
        Assert.DoesNotContain("qlaud_search_tools", _gateway.Fake.Requests[0].BodyText, StringComparison.Ordinal);

        _gateway.Fake.ClearRequests();
        _gateway.Fake.Enqueue(FakeReply.Text("Plain."));
        var (noneStatus, _) = await http.PostJsonAsync($"/v1/threads/{id}/messages", """{"max_tokens":256,"content":"Just talk","tools_mode":"none"}""");
        Assert.Equal(HttpStatusCode.OK, noneStatus);
        Assert.DoesNotContain("\"tools\"", _gateway.Fake.Requests.Single().BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientTools_AreReturnedAsToolUse_NotExecuted()
    {
        using var http = _gateway.Http();
        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        _gateway.Fake.Enqueue(FakeReply.ToolCall("get_weather", """{"city":"Oslo"}""", "toolu_client"));
        var (status, answer) = await http.PostJsonAsync($"/v1/threads/{thread.GetProperty("id").GetString()}/messages",
            """{"max_tokens":256,"content":"Weather?","tools_mode":"dynamic","tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("tool_use", answer.GetProperty("stop_reason").GetString());
        var block = Assert.Single(answer.GetProperty("content").EnumerateArray());
        Assert.Equal(("tool_use", "get_weather", "toolu_client"), (block.GetProperty("type").GetString(), block.GetProperty("name").GetString(), block.GetProperty("id").GetString()));
        Assert.Single(_gateway.Fake.Requests, static r => r.Path.Contains("messages", StringComparison.Ordinal));
    }
}
