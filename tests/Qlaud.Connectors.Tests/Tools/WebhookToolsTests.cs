using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Fakes;
using Qlaud.FakeProvider;
using Qlaud.Metering;
using Qlaud.Storage;

namespace Qlaud.Connectors.Tests.Tools;

/// <summary>Webhook tools over real HTTP: registered with <c>POST /v1/tools</c>, called by the model in a thread turn, delivered
/// signed to the app's receiver on loopback, answered into the model's next request, counted in the ledger.</summary>
public sealed class WebhookToolsTests : IAsyncLifetime
{
    private FakeWebhookReceiver _receiver = null!;
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        _receiver = await FakeWebhookReceiver.StartAsync();
        _gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Connectors:AllowPrivateNetworks"] = "true", // the receiver is on 127.0.0.1
            ["Qlaud:Connectors:ToolCallTimeoutSeconds"] = "20",
        });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _receiver.DisposeAsync();
    }

    private async Task<(string Id, string Secret)> RegisterAsync(string name = "lookup_order", string? endUser = null)
    {
        using var http = _gateway.Http();
        string endUserField = endUser is null ? "" : $",\"end_user_id\":\"{endUser}\"";
        var (status, tool) = await http.PostJsonAsync("/v1/tools", $$$"""
            {"name":"{{{name}}}","description":"Look up an order's delivery status by its id.",
             "input_schema":{"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]},"url":"{{{_receiver.Url}}}"{{{endUserField}}}}
            """);
        Assert.Equal(HttpStatusCode.Created, status);
        return (tool.GetProperty("id").GetString()!, tool.GetProperty("signing_secret").GetString()!);
    }

    [Fact]
    public async Task Register_ShowsTheSecretOnce_StoresItEncrypted_AndListsTheToolWithItsSchema()
    {
        var (id, secret) = await RegisterAsync();
        Assert.StartsWith("tool_", id, StringComparison.Ordinal);
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.True(secret.Length > 40);

        using var http = _gateway.Http();
        var (status, got) = await http.GetJsonAsync($"/v1/tools/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("webhook", got.GetProperty("type").GetString());
        Assert.Equal("lookup_order", got.GetProperty("name").GetString());
        Assert.Equal(_receiver.Url, got.GetProperty("url").GetString());
        Assert.False(got.TryGetProperty("signing_secret", out _));
        Assert.Equal("string", got.GetProperty("input_schema").GetProperty("properties").GetProperty("order_id").GetProperty("type").GetString());

        var (_, list) = await http.GetJsonAsync("/v1/tools");
        Assert.Contains(list.GetProperty("data").EnumerateArray(), t => t.GetProperty("id").GetString() == id);
        Assert.DoesNotContain(secret, list.GetRawText(), StringComparison.Ordinal);

        var factory = _gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        var row = await db.WebhookTools.SingleAsync(t => t.Id == id);
        Assert.DoesNotContain(secret, row.SecretCipher, StringComparison.Ordinal);
        Assert.DoesNotContain(secret["whsec_".Length..], row.SecretCipher, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThreadTurn_ModelCallsTheTool_DeliveryIsSignedAndItsAnswerReachesTheModel()
    {
        var (_, secret) = await RegisterAsync();
        _receiver.Secret = secret;
        var (aliceKeyId, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = _gateway.Http(alice);
        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        _gateway.Fake.Enqueue(FakeReply.ToolCall("lookup_order", """{"order_id":"A-17"}""", "toolu_lookup"), FakeReply.Text("Your order ships tomorrow."));

        var (status, reply) = await http.PostJsonAsync($"/v1/threads/{thread.GetProperty("id").GetString()}/messages",
            """{"max_tokens":64,"tools_mode":"static","content":"Where is my order A-17?"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var blocks = reply.GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(["mcp_tool_use", "mcp_tool_result", "text"], blocks.Select(static b => b.GetProperty("type").GetString()));
        Assert.Equal("lookup_order", blocks[0].GetProperty("name").GetString());
        Assert.False(blocks[1].GetProperty("is_error").GetBoolean());

        var delivery = Assert.Single(_receiver.Deliveries);
        Assert.True(delivery.SignatureValid, delivery.Signature);
        Assert.Equal("toolu_lookup", delivery.IdempotencyKey);
        Assert.StartsWith("application/json", delivery.ContentType, StringComparison.Ordinal);
        using (var body = JsonDocument.Parse(delivery.Body))
        {
            Assert.Equal("tool.call", body.RootElement.GetProperty("object").GetString());
            Assert.Equal("lookup_order", body.RootElement.GetProperty("tool").GetString());
            Assert.Equal("alice", body.RootElement.GetProperty("end_user_id").GetString());
            Assert.Equal("A-17", body.RootElement.GetProperty("arguments").GetProperty("order_id").GetString());
        }

        Assert.False(FakeWebhookReceiver.Verify("whsec_wrong", delivery.Signature, delivery.Body));
        Assert.Contains("shipped", _gateway.Fake.Requests[1].BodyText, StringComparison.Ordinal); // the answer went back to the model
        Assert.Contains("\"name\":\"lookup_order\"", _gateway.Fake.Requests[0].BodyText, StringComparison.Ordinal); // offered directly in static mode

        await _gateway.Services.GetRequiredService<LedgerWriter>().FlushAsync();
        var factory = _gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        var call = await db.LedgerEntries.SingleAsync(e => e.KeyId == aliceKeyId && e.Kind == LedgerEntryKind.Tool);
        Assert.Equal("lookup_order", call.Tool);
        Assert.Equal(0, call.CostMicros);

        using var master = _gateway.Http();
        var (_, usage) = await master.GetJsonAsync("/v1/usage");
        var byTool = Assert.Single(usage.GetProperty("by_tool").EnumerateArray());
        Assert.Equal("lookup_order", byTool.GetProperty("tool").GetString());
        Assert.Equal(1, byTool.GetProperty("requests").GetInt32());
    }

    [Fact]
    public async Task Delivery_RetriedAfterA503_WithTheSameIdempotencyKey()
    {
        var (_, secret) = await RegisterAsync();
        _receiver.Secret = secret;
        _receiver.AnswerWith(503);
        var tools = _gateway.Services.GetRequiredService<IQlaudTools>();
        var functions = await tools.GetFunctionsAsync(new QlaudCaller("default", null, "alice", IsMaster: false));
        var lookup = functions.Single(f => f.Name == "lookup_order");

        var result = await lookup.InvokeAsync(new Microsoft.Extensions.AI.AIFunctionArguments { ["order_id"] = "B-2" });

        Assert.Contains("shipped", result?.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, _receiver.Deliveries.Count);
        Assert.Equal(_receiver.Deliveries[0].IdempotencyKey, _receiver.Deliveries[1].IdempotencyKey);
        Assert.All(_receiver.Deliveries, static d => Assert.True(d.SignatureValid));
    }

    [Fact]
    public async Task Delivery_ThatKeepsFailing_IsAnErrorForTheModel_AndNotCounted()
    {
        await RegisterAsync();
        _receiver.AnswerWith(500, 500, 500);
        var tools = _gateway.Services.GetRequiredService<IQlaudTools>();
        var lookup = (await tools.GetFunctionsAsync(new QlaudCaller("default", null, "alice", IsMaster: false))).Single(f => f.Name == "lookup_order");

        var result = await lookup.InvokeAsync(new Microsoft.Extensions.AI.AIFunctionArguments { ["order_id"] = "C-3" });

        Assert.Contains("answered HTTP 500", result?.ToString(), StringComparison.Ordinal);
        Assert.Equal(3, _receiver.Deliveries.Count); // the first try and two retries
        await _gateway.Services.GetRequiredService<LedgerWriter>().FlushAsync();
        var factory = _gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        Assert.False(await db.LedgerEntries.AnyAsync(static e => e.Kind == LedgerEntryKind.Tool));
    }

    [Fact]
    public async Task EndUserTool_IsOnlyThatEndUsers_AndIsErasedWithThem()
    {
        var (id, _) = await RegisterAsync("bobs_orders", endUser: "bob");
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        var (_, bob) = await _gateway.MintKeyAsync("""{"end_user_id":"bob"}""");
        using var aliceHttp = _gateway.Http(alice);
        using var bobHttp = _gateway.Http(bob);

        var (_, aliceList) = await aliceHttp.GetJsonAsync("/v1/tools");
        Assert.DoesNotContain(aliceList.GetProperty("data").EnumerateArray(), t => t.GetProperty("name").GetString() == "bobs_orders");
        Assert.Equal(HttpStatusCode.NotFound, (await aliceHttp.GetJsonAsync($"/v1/tools/{id}")).Status);
        var (_, bobList) = await bobHttp.GetJsonAsync("/v1/tools");
        Assert.Contains(bobList.GetProperty("data").EnumerateArray(), t => t.GetProperty("name").GetString() == "bobs_orders");

        // Alice's model cannot call it by name either.
        var tools = _gateway.Services.GetRequiredService<IQlaudTools>();
        Assert.DoesNotContain(await tools.GetFunctionsAsync(new QlaudCaller("default", null, "alice", IsMaster: false)), f => f.Name == "bobs_orders");

        using var master = _gateway.Http();
        var (status, erased) = await master.DeleteJsonAsync("/v1/end_users/bob");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, erased.GetProperty("webhook_tools_deleted").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await master.GetJsonAsync($"/v1/tools/{id}")).Status);
    }

    [Theory]
    [InlineData("""{"name":"bad name","description":"d","input_schema":{"type":"object"},"url":"https://203.0.113.10/t"}""", "invalid_tool_name")]
    [InlineData("""{"name":"a__b","description":"d","input_schema":{"type":"object"},"url":"https://203.0.113.10/t"}""", "invalid_tool_name")]
    [InlineData("""{"name":"qlaud_search","description":"d","input_schema":{"type":"object"},"url":"https://203.0.113.10/t"}""", "invalid_tool_name")]
    [InlineData("""{"name":"ok","description":"d","input_schema":{"type":"array"},"url":"https://203.0.113.10/t"}""", null)]
    [InlineData("""{"name":"ok","description":"d","input_schema":{"type":"object"},"url":"ftp://203.0.113.10/t"}""", null)]
    [InlineData("""{"name":"ok","description":"d","input_schema":{"type":"object"}}""", null)]
    [InlineData("""{"name":"ok","description":"d","input_schema":{"type":"object"},"url":"https://203.0.113.10/t","color":"red"}""", null)]
    public async Task Register_BadInput_Is400InTheOpenAIShape_AndStoresNothing(string body, string? code)
    {
        using var http = _gateway.Http();
        var (status, error) = await http.PostJsonAsync("/v1/tools", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", error.GetProperty("error").GetProperty("type").GetString());
        if (code is not null)
        {
            Assert.Equal(code, error.GetProperty("error").GetProperty("code").GetString());
        }

        var factory = _gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        Assert.Equal(0, await db.WebhookTools.CountAsync());
    }

    [Fact]
    public async Task Register_SameNameTwice_IsRefused()
    {
        await RegisterAsync();
        using var http = _gateway.Http();
        var (status, error) = await http.PostJsonAsync("/v1/tools",
            $$"""{"name":"lookup_order","description":"again","input_schema":{"type":"object"},"url":"{{_receiver.Url}}"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("tool_name_taken", error.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Register_PrivateUrl_IsRefusedUnlessPrivateNetworksAreAllowed()
    {
        await using var strict = await GatewayHost.StartAsync();
        using var http = strict.Http();
        var (status, error) = await http.PostJsonAsync("/v1/tools",
            $$"""{"name":"lookup_order","description":"d","input_schema":{"type":"object"},"url":"{{_receiver.Url}}"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("tool_url_refused", error.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Delivery_ToAHostThatRebindsToLoopback_IsRefusedWhenTheConnectionOpens()
    {
        var resolver = new RebindingResolver("orders.example", IPAddress.Parse("203.0.113.10"), publicAnswers: 2);
        await using var strict = await GatewayHost.StartAsync(services: s => s.AddSingleton<Qlaud.Connectors.Builtins.WebFetch.IHostResolver>(resolver));
        string url = new UriBuilder(_receiver.Url) { Host = "orders.example" }.Uri.AbsoluteUri;
        using (var http = strict.Http())
        {
            var (status, _) = await http.PostJsonAsync("/v1/tools", $$"""{"name":"lookup_order","description":"d","input_schema":{"type":"object"},"url":"{{url}}"}""");
            Assert.Equal(HttpStatusCode.Created, status); // checked while the name still resolved to a public address
        }

        var tools = strict.Services.GetRequiredService<IQlaudTools>();
        var lookup = (await tools.GetFunctionsAsync(QlaudCaller.InProcess)).Single(f => f.Name == "lookup_order");
        var result = await lookup.InvokeAsync(new Microsoft.Extensions.AI.AIFunctionArguments { ["order_id"] = "A-1" });

        Assert.Contains("private or loopback", result?.ToString(), StringComparison.Ordinal);
        Assert.Empty(_receiver.Deliveries);
        Assert.Equal(3, resolver.Lookups); // registration, the check before the call, and the connection
    }

    /// <summary>Answers a public address for the first lookups of a name, then the loopback address where the receiver listens.</summary>
    private sealed class RebindingResolver(string host, IPAddress publicAddress, int publicAnswers) : Qlaud.Connectors.Builtins.WebFetch.IHostResolver
    {
        private int _lookups;

        public int Lookups => Volatile.Read(ref _lookups);

        public Task<IPAddress[]> ResolveAsync(string name, CancellationToken cancellationToken)
        {
            if (!string.Equals(name, host, StringComparison.OrdinalIgnoreCase))
            {
                return System.Net.Dns.GetHostAddressesAsync(name, cancellationToken);
            }

            return Task.FromResult<IPAddress[]>([Interlocked.Increment(ref _lookups) <= publicAnswers ? publicAddress : IPAddress.Loopback]);
        }
    }
}
