using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Fakes;
using Qlaud.Connectors.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Storage;

namespace Qlaud.Connectors.Tests.Tools;

/// <summary>Failures seen in other MCP gateways, each checked over real HTTP: credentials keyed by server name alone (a changed
/// URL gets the old token; a removed server's tokens stay) and two servers' tools of the same name shadowing each other.</summary>
public sealed class KnownGatewayFailuresTests
{
    private const string Key = "shared_key_0123456789";

    [Fact]
    public async Task ChangedServerUrl_TheOldCredentialIsNeverSentToTheNewAddress()
    {
        await using var first = await FakeMcpServer.StartAsync("Linear", Key);
        await using var moved = await FakeMcpServer.StartAsync("Elsewhere", Key); // would accept the same key
        using var database = new TempDatabase();
        var fake = await FakeProviderServer.StartAsync();
        await using (fake)
        {
            await using (var gateway = await GatewayHost.StartAsync(fake, Settings(database, first.Endpoint), disposeFake: false))
            {
                await ConnectAsync(gateway, "linear", Key);
            }

            await using var restarted = await GatewayHost.StartAsync(fake, Settings(database, moved.Endpoint), disposeFake: false);
            using var http = restarted.Http(await EndUserKeyAsync(restarted));
            var (_, connectors) = await http.GetJsonAsync("/v1/connections");
            var connection = Assert.Single(connectors.GetProperty("data").EnumerateArray());
            Assert.Equal("error", connection.GetProperty("status").GetString());
            Assert.Null((await RowsAsync(restarted)).Single().CredentialCipher);

            var answer = await TurnAsync(restarted, http, "linear__create_issue");
            Assert.Contains("not connected", answer, StringComparison.Ordinal);
            Assert.Empty(moved.Calls);
            Assert.Equal(0, moved.Refused); // no request at all reached the new address
        }
    }

    [Fact]
    public async Task RemovedServer_ItsCredentialsAreErasedAtStartUp()
    {
        await using var linear = await FakeMcpServer.StartAsync("Linear", Key);
        using var database = new TempDatabase();
        var fake = await FakeProviderServer.StartAsync();
        await using (fake)
        {
            await using (var gateway = await GatewayHost.StartAsync(fake, Settings(database, linear.Endpoint), disposeFake: false))
            {
                await ConnectAsync(gateway, "linear", Key);
                Assert.NotNull((await RowsAsync(gateway)).Single().CredentialCipher);
            }

            var settings = Settings(database, linear.Endpoint);
            settings["Qlaud:Connectors:Servers:linear:Enabled"] = "false";
            await using var restarted = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
            var row = (await RowsAsync(restarted)).Single();
            Assert.Null(row.CredentialCipher);
            Assert.Equal("error", row.Status);
        }
    }

    [Fact]
    public async Task TwoServersWithTheSameToolName_NeverShadowEachOther()
    {
        await using var linear = await FakeMcpServer.StartAsync("Linear", "linear_key_0123456789");
        await using var tracker = await FakeMcpServer.StartAsync("Tracker", "tracker_key_0123456789");
        var settings = new Dictionary<string, string?>
        {
            ["Qlaud:Connectors:Servers:linear:Url"] = linear.Endpoint.AbsoluteUri,
            ["Qlaud:Connectors:Servers:linear:Auth:Kind"] = "api_key",
            ["Qlaud:Connectors:Servers:tracker:Url"] = tracker.Endpoint.AbsoluteUri,
            ["Qlaud:Connectors:Servers:tracker:Description"] = "Issue tracker",
            ["Qlaud:Connectors:Servers:tracker:Auth:Kind"] = "api_key",
        };
        await using var gateway = await GatewayHost.StartAsync(settings: settings);
        await ConnectAsync(gateway, "linear", "linear_key_0123456789");
        await ConnectAsync(gateway, "tracker", "tracker_key_0123456789");
        using var http = gateway.Http(await EndUserKeyAsync(gateway));

        await TurnAsync(gateway, http, "tracker__create_issue", mode: "static");

        var offered = gateway.Fake.Requests[0].BodyText;
        Assert.Contains("\"name\":\"linear__create_issue\"", offered, StringComparison.Ordinal);
        Assert.Contains("\"name\":\"tracker__create_issue\"", offered, StringComparison.Ordinal);
        Assert.Equal("tracker_key_0123456789", Assert.Single(tracker.Calls).Key);
        Assert.Empty(linear.Calls);
    }

    private static Dictionary<string, string?> Settings(TempDatabase database, Uri linear) => new()
    {
        ["Qlaud:Storage:ConnectionString"] = database.ConnectionString,
        ["Qlaud:Connectors:Servers:linear:Url"] = linear.AbsoluteUri,
        ["Qlaud:Connectors:Servers:linear:Auth:Kind"] = "api_key",
    };

    private static async Task<string> EndUserKeyAsync(GatewayHost gateway)
    {
        var (_, secret) = await gateway.MintKeyAsync("""{"end_user_id":"carol"}""");
        return secret;
    }

    private static async Task ConnectAsync(GatewayHost gateway, string connector, string key)
    {
        using var http = gateway.Http(); // the account's master key connects the end user
        var (status, link) = await http.PostJsonAsync("/v1/connections", $$"""{"connector":"{{connector}}","end_user_id":"carol"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        using var browser = new ConnectBrowser();
        Assert.Equal(HttpStatusCode.OK, (await browser.ConnectAsync(new Uri(link.GetProperty("connect_url").GetString()!), key)).Status);
    }

    /// <summary>A static- or dynamic-mode turn in which the scripted model calls <paramref name="tool"/>; the answer's raw JSON.</summary>
    private static async Task<string> TurnAsync(GatewayHost gateway, HttpClient http, string tool, string mode = "dynamic")
    {
        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        gateway.Fake.ClearRequests();
        gateway.Fake.Enqueue(
            mode == "static"
                ? FakeReply.ToolCall(tool, """{"title":"t"}""", "toolu_1")
                : FakeReply.ToolCall("qlaud_multi_execute", $$$"""{"calls":[{"tool":"{{{tool}}}","arguments":{"title":"t"}}]}""", "toolu_1"),
            FakeReply.Text("ok"));
        var (status, answer) = await http.PostJsonAsync($"/v1/threads/{thread.GetProperty("id").GetString()}/messages",
            $$"""{"max_tokens":128,"content":"go","tools_mode":"{{mode}}"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        return answer.GetRawText();
    }

    private static async Task<List<ConnectionEntity>> RowsAsync(GatewayHost gateway)
    {
        var factory = gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        return await db.Connections.AsNoTracking().ToListAsync();
    }
}
