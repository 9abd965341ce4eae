using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Fakes;
using Qlaud.Connectors.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Storage;

namespace Qlaud.Connectors.Tests.Connections;

/// <summary>OAuth connectors over real HTTP against a fake vendor and authorization server: discovery, dynamic client
/// registration, PKCE and state, the gateway's callback, and refresh (also by two calls at once with a single-use refresh token).</summary>
public sealed class OAuthConnectTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private FakeOAuthVendor _vendor = null!;
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        _vendor = await FakeOAuthVendor.StartAsync();
        _gateway = await GatewayHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(_clock), settings: new Dictionary<string, string?>
        {
            ["Qlaud:Connectors:Servers:acme:Url"] = _vendor.Endpoint.AbsoluteUri,
            ["Qlaud:Connectors:Servers:acme:Name"] = "Acme",
            ["Qlaud:Connectors:Servers:acme:Description"] = "Acme issues",
            ["Qlaud:Connectors:Servers:acme:Auth:Kind"] = "oauth",
        });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _vendor.DisposeAsync();
    }

    [Fact]
    public async Task OAuthConnect_RegistersAClientUsesPkceAndStoresTheTokensEncrypted()
    {
        var url = await ConnectLinkAsync();
        using var browser = new ConnectBrowser();
        var (status, page) = await browser.SignInAsync(url);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Acme is connected", page, StringComparison.Ordinal);
        Assert.Equal(1, _vendor.Registrations);
        var row = (await RowsAsync()).Single();
        Assert.Equal("active", row.Status);
        Assert.DoesNotContain("at-", row.CredentialCipher, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Gone, (await browser.OpenAsync(url)).Status); // used

        string answer = await TurnAsync("""[{"tool":"acme__create_issue","arguments":{"title":"first"}}]""");
        Assert.DoesNotContain("\"is_error\":true", answer, StringComparison.Ordinal);
        var call = Assert.Single(_vendor.Calls);
        Assert.Equal("first", call.Title);
        Assert.StartsWith("at-", call.Token, StringComparison.Ordinal);
        Assert.Equal(0, _vendor.Refreshes);
    }

    [Fact]
    public async Task ExpiredAccessToken_IsRefreshedOnExecution_OnceForTwoConcurrentCalls()
    {
        using (var browser = new ConnectBrowser())
        {
            Assert.Equal(HttpStatusCode.OK, (await browser.SignInAsync(await ConnectLinkAsync())).Status);
        }

        _clock.Advance(TimeSpan.FromHours(2)); // past the token's hour

        string answer = await TurnAsync("""[{"tool":"acme__create_issue","arguments":{"title":"a"}},{"tool":"acme__create_issue","arguments":{"title":"b"}}]""");

        Assert.Equal(1, _vendor.Refreshes);
        Assert.Equal(0, _vendor.ReusedRefreshTokens);
        Assert.Equal(2, _vendor.Calls.Count);
        Assert.Single(_vendor.Calls.Select(static c => c.Token).Distinct()); // both with the one refreshed token
        Assert.DoesNotContain("\"is_error\":true", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OAuthCallback_WithAnUnknownState_ShowsAPageAndStoresNothing()
    {
        using var browser = new ConnectBrowser();
        var (status, html, _) = await browser.OpenAsync(new Uri(_gateway.BaseUri, "/connect/callback?code=x&state=forged"));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("does not exist", html, StringComparison.Ordinal);
        Assert.Empty(await RowsAsync());
    }

    private async Task<Uri> ConnectLinkAsync()
    {
        using var http = _gateway.Http();
        var (status, link) = await http.PostJsonAsync("/v1/connections", """{"connector":"acme","end_user_id":"dana"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        return new Uri(link.GetProperty("connect_url").GetString()!);
    }

    private async Task<string> TurnAsync(string calls)
    {
        var (_, dana) = await _gateway.MintKeyAsync("""{"end_user_id":"dana"}""");
        using var http = _gateway.Http(dana);
        var (_, thread) = await http.PostJsonAsync("/v1/threads", """{"model":"fake-claude"}""");
        _gateway.Fake.Enqueue(FakeReply.ToolCall("qlaud_multi_execute", $$$"""{"calls":{{{calls}}}}""", "toolu_1"), FakeReply.Text("ok"));
        var (status, answer) = await http.PostJsonAsync($"/v1/threads/{thread.GetProperty("id").GetString()}/messages", """{"max_tokens":128,"content":"go","tools_mode":"dynamic"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        return answer.GetRawText();
    }

    private async Task<List<ConnectionEntity>> RowsAsync()
    {
        var factory = _gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        return await db.Connections.AsNoTracking().ToListAsync();
    }
}
