using System.Text;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Builtins.Fakes;
using static Qlaud.Connectors.Tests.Builtins.BuiltinTestKit;

namespace Qlaud.Connectors.Tests.Builtins;

public sealed class ZendeskCreateTicketToolTests
{
    private const string Name = "zendesk_create_ticket";

    private static Task<GatewayHost> StartAsync(FakeVendorServer zendesk, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Qlaud:Builtins:{Name}:ApiKey"] = FakeZendesk.Token,
            [$"Qlaud:Builtins:{Name}:Email"] = FakeZendesk.Email,
            [$"Qlaud:Builtins:{Name}:Subdomain"] = "acme",
            [$"Qlaud:Builtins:{Name}:BaseUrl"] = zendesk.Url,
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return GatewayHost.StartAsync(settings: settings);
    }

    [Fact]
    public async Task IsAvailable_NeedsTokenEmailAndSubdomain_FromSettingsOrZendeskVariables()
    {
        await using (var tokenOnly = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["ZENDESK_API_TOKEN"] = FakeZendesk.Token }))
        {
            Assert.False(Tool(tokenOnly, Name).IsAvailable);
        }

        await using (var byVariables = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["ZENDESK_API_TOKEN"] = FakeZendesk.Token,
            ["ZENDESK_EMAIL"] = FakeZendesk.Email,
            ["ZENDESK_SUBDOMAIN"] = "acme.zendesk.com",
        }))
        {
            Assert.True(Tool(byVariables, Name).IsAvailable);
            Assert.Equal(0, Tool(byVariables, Name).PriceMicros);
        }

        await using var disabled = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["ZENDESK_API_TOKEN"] = FakeZendesk.Token,
            ["ZENDESK_EMAIL"] = FakeZendesk.Email,
            ["ZENDESK_SUBDOMAIN"] = "acme",
            [$"Qlaud:Builtins:{Name}:Enabled"] = "false",
            [$"Qlaud:Builtins:{Name}:PriceUsd"] = "0.05",
        });
        Assert.False(Tool(disabled, Name).IsAvailable);
        Assert.Equal(50_000, Tool(disabled, Name).PriceMicros);
    }

    [Fact]
    public async Task Start_SubdomainThatIsNotAHostLabel_FailsNamingTheKey()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            [$"Qlaud:Builtins:{Name}:Subdomain"] = "evil.example/x?",
        }));
        Assert.Contains($"Qlaud:Builtins:{Name}:Subdomain", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invoke_SendsTheDocumentedRequest_ReturnsIdStatusAndAgentUrl()
    {
        await using var zendesk = await FakeVendorServer.StartAsync(FakeZendesk.Behaviour);
        await using var gateway = await StartAsync(zendesk);

        var result = Json(await CallAsync(Tool(gateway, Name),
            """{"subject":"My printer is on fire!","body":"The smoke is very colorful.","priority":"urgent","type":"incident","tags":["printer"],"requester_email":"ann@example.com","requester_name":"Ann"}""",
            callId: "toolu_zendesk_1"));

        long id = result.GetProperty("id").GetInt64();
        Assert.Equal("new", result.GetProperty("status").GetString());
        Assert.Equal($"https://acme.zendesk.com/agent/tickets/{id}", result.GetProperty("url").GetString());
        var request = Assert.Single(zendesk.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/api/v2/tickets.json", request.RawTarget);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{FakeZendesk.Email}/token:{FakeZendesk.Token}")), request.Header("Authorization"));
        Assert.Equal("application/json", request.Header("Accept"));
        Assert.StartsWith("qlaud-zendesk_create_ticket-", request.Header("Idempotency-Key"), StringComparison.Ordinal);
        Assert.Equal(
            """{"ticket":{"subject":"My printer is on fire!","comment":{"body":"The smoke is very colorful."},"priority":"urgent","type":"incident","tags":["printer"],"requester":{"name":"Ann","email":"ann@example.com"}}}""",
            request.Body);
    }

    [Fact]
    public async Task Invoke_5xxRetriedWithTheSameIdempotencyKey_OneTicket()
    {
        await using var zendesk = await FakeVendorServer.StartAsync(FakeZendesk.Behaviour);
        await using var gateway = await StartAsync(zendesk);
        var tool = Tool(gateway, Name);
        const string Args = """{"subject":"Refund","body":"Please refund order 42."}""";

        zendesk.Enqueue(VendorResponse.Json(503, """{"error":"ServiceUnavailable"}"""), VendorResponse.RateLimited(1, """{"error":"TooManyRequests"}"""));
        var first = Json(await CallAsync(tool, Args, callId: "toolu_refund"));
        Assert.Equal(3, zendesk.Requests.Count);
        Assert.Single(zendesk.Requests.Select(r => r.Header("Idempotency-Key")).Distinct());

        // The same tool call again (a replayed turn): Zendesk recognises the key and answers with the same ticket.
        var again = Json(await CallAsync(tool, Args, callId: "toolu_refund"));
        Assert.Equal(first.GetProperty("id").GetInt64(), again.GetProperty("id").GetInt64());
        var other = Json(await CallAsync(tool, Args, callId: "toolu_other"));
        Assert.NotEqual(first.GetProperty("id").GetInt64(), other.GetProperty("id").GetInt64());
    }

    [Fact]
    public async Task Invoke_ZendeskErrors_AreErrorResults_BadArgumentsNotSent()
    {
        await using var zendesk = await FakeVendorServer.StartAsync(FakeZendesk.Behaviour);
        await using var gateway = await StartAsync(zendesk);
        var tool = Tool(gateway, Name);

        var invalid = await CallAsync(tool, """{"subject":"Buy spam now","body":"x"}""");
        Assert.Equal("Zendesk rejected the ticket (HTTP 422): RecordInvalid: Record validation errors; base: Ticket was flagged as spam.", invalid.Text);

        zendesk.Enqueue(VendorResponse.RateLimited(7, "{}"));
        await using (var quick = await StartAsync(zendesk, new() { [$"Qlaud:Builtins:{Name}:TimeoutSeconds"] = "2" }))
        {
            var slow = await CallAsync(Tool(quick, Name), """{"subject":"s","body":"b"}""");
            Assert.Equal("Zendesk did not answer within 2 s; try again later.", slow.Text);
        }

        await using var wrongKey = await StartAsync(zendesk, new() { [$"Qlaud:Builtins:{Name}:ApiKey"] = "revoked" });
        var refused = await CallAsync(Tool(wrongKey, Name), """{"subject":"s","body":"b"}""");
        Assert.Equal("The operator's Zendesk key was refused: Couldn't authenticate you. This tool cannot be used until the operator fixes it.", refused.Text);

        int sent = zendesk.Requests.Count;
        Assert.True((await CallAsync(tool, """{"subject":"s"}""")).IsError);
        Assert.True((await CallAsync(tool, """{"subject":"s","body":"b","priority":"asap"}""")).IsError);
        Assert.True((await CallAsync(tool, """{"subject":"s","body":"b","requester_email":"nobody"}""")).IsError);
        Assert.Equal(sent, zendesk.Requests.Count);
    }
}
