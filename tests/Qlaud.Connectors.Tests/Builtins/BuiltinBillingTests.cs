using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Builtins;
using Qlaud.Connectors.Tools;
using Qlaud.FakeProvider;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Connectors.Tests.Builtins;

/// <summary>Builtins on the bill and in the loop, with a builtin of the test's own (<see cref="EchoBuiltin"/>): reserved before the
/// call, settled as a <c>tool</c> ledger entry with markup, refused before the vendor for a key that cannot afford it, released
/// when it fails, offered in <c>static</c> mode and found by <c>qlaud_search_tools</c>, switched off per account.</summary>
public sealed class BuiltinBillingTests : IAsyncLifetime
{
    private readonly EchoBuiltin _echo = new();
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await StartAsync(new Dictionary<string, string?> { ["Qlaud:Pricing:MarkupPercent"] = "10" });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private Task<GatewayHost> StartAsync(Dictionary<string, string?> settings)
        => GatewayHost.StartAsync(settings: settings, services: s => s.AddSingleton<BuiltinTool>(_echo));

    private async Task<string> ThreadAsync(HttpClient http)
    {
        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        return thread.GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task StaticTurn_CallsTheBuiltin_AndChargesItsPricePlusMarkupAsAToolEntry()
    {
        var (keyId, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = _gateway.Http(alice);
        _gateway.Fake.Enqueue(FakeReply.ToolCall("echo_text", """{"text":"ping"}""", "toolu_echo"), FakeReply.Text("It said ping."));

        var (status, reply) = await http.PostJsonAsync($"/v1/threads/{await ThreadAsync(http)}/messages", """{"max_tokens":64,"tools_mode":"static","content":"Echo ping"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("qlaud", reply.GetProperty("content")[0].GetProperty("server_name").GetString());
        Assert.Equal(1, _echo.Calls);
        Assert.Contains("echo: ping", _gateway.Fake.Requests[1].BodyText, StringComparison.Ordinal);
        await _gateway.Services.GetRequiredService<LedgerWriter>().FlushAsync();
        var factory = _gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        var entry = await db.LedgerEntries.SingleAsync(e => e.KeyId == keyId && e.Kind == LedgerEntryKind.Tool);
        Assert.Equal("echo_text", entry.Tool);
        Assert.Equal(20_000, entry.UpstreamCostMicros);
        Assert.Equal(22_000, entry.CostMicros); // $0.02 plus 10 % markup
        Assert.Equal(-22_000, entry.AmountMicros);
        Assert.Equal("alice", entry.EndUserId);
        Assert.Equal("toolu_echo", entry.RequestId);

        using var master = _gateway.Http();
        var (_, usage) = await master.GetJsonAsync("/v1/usage");
        var row = Assert.Single(usage.GetProperty("by_tool").EnumerateArray());
        Assert.Equal("echo_text", row.GetProperty("tool").GetString());
        Assert.Equal(22_000, row.GetProperty("cost_micros").GetInt64());
        Assert.True(usage.GetProperty("totals").GetProperty("cost_micros").GetInt64() > 22_000); // model round trips and the tool call
        var (_, keyUsage) = await master.GetJsonAsync($"/v1/keys/{keyId}");
        Assert.True(keyUsage.GetProperty("spend_usd").GetDecimal() >= 0.022m);
    }

    [Fact]
    public async Task KeyThatCannotAffordTheCall_GetsAToolErrorAndTheBuiltinNeverRuns()
    {
        _echo.PriceUsd = 1m;
        var (keyId, poor) = await _gateway.MintKeyAsync("""{"end_user_id":"poor","max_spend_usd":0.05}""");
        using var http = _gateway.Http(poor);
        _gateway.Fake.Enqueue(FakeReply.ToolCall("echo_text", """{"text":"ping"}""", "toolu_echo"), FakeReply.Text("I could not run it."));

        var (status, reply) = await http.PostJsonAsync($"/v1/threads/{await ThreadAsync(http)}/messages", """{"max_tokens":64,"tools_mode":"static","content":"Echo ping"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var result = reply.GetProperty("content")[1];
        Assert.True(result.GetProperty("is_error").GetBoolean());
        Assert.Contains("cannot afford", result.GetProperty("content")[0].GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, _echo.Calls);
        await _gateway.Services.GetRequiredService<LedgerWriter>().FlushAsync();
        var factory = _gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        Assert.False(await db.LedgerEntries.AnyAsync(e => e.KeyId == keyId && e.Kind == LedgerEntryKind.Tool));
    }

    [Fact]
    public async Task FailedCall_IsReleased_NotCharged()
    {
        _echo.Fail = true;
        var tools = _gateway.Services.GetRequiredService<IQlaudTools>();
        var (keyId, _) = await _gateway.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":0.03}""");
        var caller = new QlaudCaller("default", keyId, "alice", IsMaster: false);
        var echo = (await tools.GetFunctionsAsync(caller)).Single(f => f.Name == "echo_text");

        // Twice: a reservation that was not released would leave no room under the $0.03 cap for the second.
        Assert.Contains("vendor said no", (await echo.InvokeAsync(new AIFunctionArguments { ["text"] = "a" }))?.ToString(), StringComparison.Ordinal);
        Assert.Contains("vendor said no", (await echo.InvokeAsync(new AIFunctionArguments { ["text"] = "b" }))?.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, _echo.Calls);
        _echo.Fail = false;
        Assert.Equal("echo: c", (await echo.InvokeAsync(new AIFunctionArguments { ["text"] = "c" }))?.ToString());

        await _gateway.Services.GetRequiredService<LedgerWriter>().FlushAsync();
        var factory = _gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        Assert.Equal(1, await db.LedgerEntries.CountAsync(e => e.KeyId == keyId && e.Kind == LedgerEntryKind.Tool));
    }

    [Fact]
    public async Task DynamicSearch_FindsTheBuiltin_AndToolsListShowsItsPrice()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = _gateway.Http(alice);
        _gateway.Fake.Enqueue(FakeReply.ToolCall("qlaud_search_tools", """{"intent":"echo some text back"}""", "toolu_s"),
            FakeReply.ToolCall("qlaud_multi_execute", """{"calls":[{"tool":"echo_text","arguments":{"text":"hello"}}]}""", "toolu_x"),
            FakeReply.Text("Done."));

        var (status, reply) = await http.PostJsonAsync($"/v1/threads/{await ThreadAsync(http)}/messages", """{"max_tokens":64,"tools_mode":"dynamic","content":"Echo hello"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        using (var search = JsonDocument.Parse(reply.GetProperty("content")[1].GetProperty("content")[0].GetProperty("text").GetString()!))
        {
            var first = search.RootElement.GetProperty("results")[0];
            Assert.Equal("echo_text", first.GetProperty("tool").GetString());
            Assert.Equal("builtin", first.GetProperty("type").GetString());
            Assert.True(first.GetProperty("connected").GetBoolean());
        }

        Assert.Contains("echo: hello", reply.GetProperty("content")[3].GetProperty("content")[0].GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Equal("toolu_x:0", _echo.LastCallId);

        var (_, list) = await http.GetJsonAsync("/v1/tools");
        var builtin = list.GetProperty("data").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "echo_text");
        Assert.Equal("builtin", builtin.GetProperty("type").GetString());
        Assert.Equal(22_000, builtin.GetProperty("price_micros").GetInt64());
        Assert.Equal("object", builtin.GetProperty("input_schema").GetProperty("type").GetString());
    }

    [Fact]
    public async Task DeniedForTheAccount_TheBuiltinIsAbsent()
    {
        await using var gateway = await StartAsync(new Dictionary<string, string?> { ["Qlaud:Builtins:Accounts:default:Deny:0"] = "echo_text" });
        using var http = gateway.Http();
        var (_, list) = await http.GetJsonAsync("/v1/tools");
        Assert.DoesNotContain(list.GetProperty("data").EnumerateArray(), t => t.GetProperty("name").GetString() == "echo_text");
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetJsonAsync("/v1/tools/echo_text")).Status);
        var tools = gateway.Services.GetRequiredService<IQlaudTools>();
        Assert.DoesNotContain(await tools.GetFunctionsAsync(QlaudCaller.InProcess), f => f.Name == "echo_text");
    }

    [Fact]
    public async Task UnavailableBuiltin_IsAbsentEverywhere()
    {
        _echo.Available = false;
        using var http = _gateway.Http();
        var (_, list) = await http.GetJsonAsync("/v1/tools");
        Assert.DoesNotContain(list.GetProperty("data").EnumerateArray(), t => t.GetProperty("name").GetString() == "echo_text");
        var runtime = new ToolRuntime(_gateway.Services.GetRequiredService<QlaudTools>(), QlaudCaller.InProcess);
        var (failed, text) = await runtime.CallAsync("echo_text", JsonDocument.Parse("""{"text":"x"}""").RootElement, CancellationToken.None);
        Assert.True(failed);
        Assert.Contains("Unknown tool", text, StringComparison.Ordinal);
        Assert.Equal(0, _echo.Calls);
    }

    /// <summary>A builtin of the test's own: echoes its text, priced $0.02 unless <see cref="PriceUsd"/> says otherwise.</summary>
    internal sealed class EchoBuiltin : BuiltinTool
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public bool Fail { get; set; }

        public bool Available { get; set; } = true;

        public decimal PriceUsd { get; set; } = 0.02m;

        public string? LastCallId { get; private set; }

        public override string Name => "echo_text";

        public override string Description => "Echo some text back, to test tools.";

        public override JsonElement InputSchema { get; } = QlaudFunction.Schema("""{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}""");

        public override bool IsAvailable => Available;

        public override long PriceMicros => (long)(PriceUsd * 1_000_000m);

        public override Task<BuiltinToolResult> InvokeAsync(BuiltinToolCall call, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            LastCallId = call.CallId;
            return Task.FromResult(Fail ? BuiltinToolResult.Error("The vendor said no.") : BuiltinToolResult.Ok("echo: " + call.String("text")));
        }
    }
}
