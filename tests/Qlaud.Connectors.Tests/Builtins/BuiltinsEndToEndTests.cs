using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Builtins.Fakes;
using Qlaud.FakeProvider;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Connectors.Tests.Builtins;

/// <summary>The issue's end-to-end turn: in one thread message the model searches the web (fake Brave), fetches a page (a fake
/// site on loopback) and runs code on it (the local bubblewrap sandbox), each through the builtins, each on the bill.</summary>
public sealed class BuiltinsEndToEndTests
{
    [Fact]
    public async Task ThreadTurn_SearchesFetchesAndRunsCode_EachCallOnTheBill()
    {
        await using var brave = await FakeBraveSearch.StartAsync("BSA-e2e");
        await using var site = await FakeWebSite.StartAsync();
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Pricing:MarkupPercent"] = "20",
            ["Qlaud:Builtins:web_search:ApiKey"] = "BSA-e2e",
            ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url,
            ["Qlaud:Builtins:web_fetch:AllowPrivateNetworks"] = "true", // the fake site is on 127.0.0.1
            ["Qlaud:Builtins:code_execution:Backend"] = "local",
            ["Qlaud:Builtins:code_execution:PriceUsd"] = "0.001",
        });
        var (keyId, alice) = await gateway.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":5}""");
        using var http = gateway.Http(alice);
        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        string article = new Uri(site.BaseUri, "/article").AbsoluteUri;
        string code = "text = 'The quick brown fox jumps over the lazy dog'\nprint(len(text.split()))";
        gateway.Fake.Enqueue(
            FakeReply.ToolCall("web_search", """{"query":"how does a fox jump","count":3}""", "toolu_search"),
            FakeReply.ToolCall("web_fetch", JsonSerializer.Serialize(new Dictionary<string, string> { ["url"] = article }), "toolu_fetch"),
            FakeReply.ToolCall("code_execution", JsonSerializer.Serialize(new Dictionary<string, string> { ["code"] = code }), "toolu_code"),
            FakeReply.Text("The first sentence has 9 words."));

        var (status, reply) = await http.PostJsonAsync($"/v1/threads/{thread.GetProperty("id").GetString()}/messages",
            """{"max_tokens":256,"tools_mode":"static","content":"Find how a fox jumps, read the article and count the words of its first sentence."}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var blocks = reply.GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(["mcp_tool_use", "mcp_tool_result", "mcp_tool_use", "mcp_tool_result", "mcp_tool_use", "mcp_tool_result", "text"],
            blocks.Select(static b => b.GetProperty("type").GetString()));
        Assert.Equal(["web_search", "web_fetch", "code_execution"], blocks.Where(static b => b.GetProperty("type").GetString() == "mcp_tool_use")
            .Select(static b => b.GetProperty("name").GetString()));
        var results = blocks.Where(static b => b.GetProperty("type").GetString() == "mcp_tool_result").ToList();
        Assert.All(results, static r => Assert.False(r.GetProperty("is_error").GetBoolean(), r.GetRawText()));
        string Text(int i) => results[i].GetProperty("content")[0].GetProperty("text").GetString()!;
        Assert.Contains("\"results\"", Text(0), StringComparison.Ordinal);
        Assert.Contains("How the fox jumps", Text(1), StringComparison.Ordinal);
        Assert.DoesNotContain("SCRIPT-SHOULD-NOT-APPEAR", Text(1), StringComparison.Ordinal);
        using (var run = JsonDocument.Parse(Text(2)))
        {
            Assert.Equal("9", run.RootElement.GetProperty("stdout").GetString()!.Trim());
            Assert.Equal(0, run.RootElement.GetProperty("exit_code").GetInt32());
        }

        Assert.Single(brave.Requests);
        Assert.Contains("fox", gateway.Fake.Requests[3].BodyText, StringComparison.Ordinal); // the results went back to the model

        // On the bill: each builtin at its price plus 20 %, as a tool entry of the end user's key.
        await gateway.Services.GetRequiredService<LedgerWriter>().FlushAsync();
        var factory = gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        var tools = await db.LedgerEntries.AsNoTracking().Where(e => e.KeyId == keyId && e.Kind == LedgerEntryKind.Tool).OrderBy(static e => e.Id).ToListAsync();
        Assert.Equal(["web_search", "web_fetch", "code_execution"], tools.Select(static e => e.Tool));
        Assert.Equal([6_000L, 0L, 1_200L], tools.Select(static e => e.CostMicros)); // $0.005 and $0.001 plus 20 %; web_fetch is free
        Assert.Equal(4, await db.LedgerEntries.CountAsync(e => e.KeyId == keyId && e.Kind == LedgerEntryKind.Usage)); // four model round trips

        // Persisted in the thread and shown by /v1/usage.
        var (_, messages) = await http.GetJsonAsync($"/v1/threads/{thread.GetProperty("id").GetString()}/messages?order=asc");
        Assert.Equal(7, messages.GetProperty("data")[1].GetProperty("content").GetArrayLength());
        using var master = gateway.Http();
        var (_, usage) = await master.GetJsonAsync("/v1/usage");
        Assert.Equal(["web_search", "code_execution", "web_fetch"], usage.GetProperty("by_tool").EnumerateArray().Select(static r => r.GetProperty("tool").GetString()));
    }

    [Fact]
    public async Task CappedKey_ThatCannotAffordASearch_TheVendorNeverSeesTheCall()
    {
        await using var brave = await FakeBraveSearch.StartAsync("BSA-e2e");
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Builtins:web_search:ApiKey"] = "BSA-e2e",
            ["Qlaud:Builtins:web_search:BaseUrl"] = brave.Url,
            ["Qlaud:Builtins:web_search:PriceUsd"] = "1",
        });
        var (keyId, poor) = await gateway.MintKeyAsync("""{"end_user_id":"poor","max_spend_usd":0.05}"""); // a model turn fits, a $1 search does not
        using var http = gateway.Http(poor);
        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        gateway.Fake.Enqueue(FakeReply.ToolCall("web_search", """{"query":"fox"}""", "toolu_search"), FakeReply.Text("I could not search."));

        var (status, reply) = await http.PostJsonAsync($"/v1/threads/{thread.GetProperty("id").GetString()}/messages",
            """{"max_tokens":32,"tools_mode":"static","content":"Search for foxes."}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var result = reply.GetProperty("content")[1];
        Assert.True(result.GetProperty("is_error").GetBoolean());
        Assert.Contains("cannot afford", result.GetProperty("content")[0].GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Empty(brave.Requests);
        await gateway.Services.GetRequiredService<LedgerWriter>().FlushAsync();
        var factory = gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        Assert.False(await db.LedgerEntries.AnyAsync(e => e.KeyId == keyId && e.Kind == LedgerEntryKind.Tool));
    }
}
