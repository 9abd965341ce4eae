using System.Net;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Fakes;
using Qlaud.Connectors.Tests.Infrastructure;
using Qlaud.Storage;

namespace Qlaud.Connectors.Tests.Connections;

/// <summary>The connect flow over real HTTP: <c>/v1/connectors</c>, <c>/v1/connections</c> and the hosted page, against a fake
/// Linear MCP server that accepts one key.</summary>
public sealed class ConnectFlowTests : IAsyncLifetime
{
    private const string AliceKey = "lin_api_alice_0123456789";

    private FakeMcpServer _linear = null!;
    private GatewayHost _gateway = null!;
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    public async Task InitializeAsync()
    {
        _linear = await FakeMcpServer.StartAsync("Linear", AliceKey);
        _gateway = await GatewayHost.StartAsync(settings: LinearSettings(_linear), services: s => s.AddSingleton<TimeProvider>(_clock));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _linear.DisposeAsync();
    }

    internal static Dictionary<string, string?> LinearSettings(FakeMcpServer linear) => new()
    {
        ["Qlaud:Connectors:Servers:linear:Url"] = linear.Endpoint.AbsoluteUri,
        ["Qlaud:Connectors:Servers:linear:Auth:Kind"] = "api_key",
        ["Qlaud:Connectors:DefaultToolsMode"] = "dynamic",
    };

    [Fact]
    public async Task Connect_ApiKeyPage_RefusesAWrongKeyThenStoresTheRightOneEncryptedAndTheLinkWorksOnce()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = _gateway.Http(alice);

        var (status, before) = await http.GetJsonAsync("/v1/connectors");
        Assert.Equal(HttpStatusCode.OK, status);
        var linear = before.GetProperty("data").EnumerateArray().Single(static c => c.GetProperty("id").GetString() == "linear");
        Assert.Equal("not_connected", linear.GetProperty("status").GetString());
        Assert.Equal("api_key", linear.GetProperty("auth_type").GetString());
        Assert.True(before.GetProperty("data").GetArrayLength() >= 35);

        var (created, link) = await http.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");
        Assert.Equal(HttpStatusCode.Created, created);
        var url = new Uri(link.GetProperty("connect_url").GetString()!);
        Assert.StartsWith(_gateway.BaseUri.AbsoluteUri + "connect/", url.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal(43, url.Segments[^1].Length); // 256 random bits, base64url
        Assert.Equal("alice", link.GetProperty("end_user_id").GetString());
        string connectionId = link.GetProperty("connection_id").GetString()!;

        using var browser = new ConnectBrowser();
        var (pageStatus, page, antiforgery) = await browser.OpenAsync(url);
        Assert.Equal(HttpStatusCode.OK, pageStatus);
        Assert.Contains("Connect Linear", page, StringComparison.Ordinal);
        Assert.NotNull(antiforgery);

        var (wrongStatus, wrong) = await browser.SubmitAsync(url, "lin_api_wrong", antiforgery);
        Assert.Equal(HttpStatusCode.BadRequest, wrongStatus);
        Assert.Contains("did not accept this key", wrong, StringComparison.Ordinal);
        Assert.True(_linear.Refused > 0);
        var pending = await ConnectionAsync(connectionId);
        Assert.Equal("pending", pending.Status);
        Assert.Null(pending.CredentialCipher);

        var (rightStatus, right) = await browser.ConnectAsync(url, AliceKey);
        Assert.Equal(HttpStatusCode.OK, rightStatus);
        Assert.Contains("Linear is connected", right, StringComparison.Ordinal);
        var active = await ConnectionAsync(connectionId);
        Assert.Equal("active", active.Status);
        Assert.NotNull(active.CredentialCipher);
        Assert.DoesNotContain(AliceKey, active.CredentialCipher, StringComparison.Ordinal);

        var (_, after) = await http.GetJsonAsync("/v1/connectors");
        Assert.Equal("connected", after.GetProperty("data").EnumerateArray().Single(static c => c.GetProperty("id").GetString() == "linear").GetProperty("status").GetString());
        var (_, list) = await http.GetJsonAsync("/v1/connections");
        var only = Assert.Single(list.GetProperty("data").EnumerateArray());
        Assert.Equal(connectionId, only.GetProperty("id").GetString());
        Assert.DoesNotContain(AliceKey, list.GetRawText(), StringComparison.Ordinal);

        // Single use: the same link again shows a clear page and stores nothing.
        var (againStatus, again) = await browser.SubmitAsync(url, AliceKey, antiforgery);
        Assert.Equal(HttpStatusCode.Gone, againStatus);
        Assert.Contains("already used", again, StringComparison.Ordinal);
        var (reopenStatus, _, _) = await browser.OpenAsync(url);
        Assert.Equal(HttpStatusCode.Gone, reopenStatus);
    }

    [Fact]
    public async Task Credentials_AreUnreadableInTheDatabaseFile()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = _gateway.Http(alice);
        var (_, link) = await http.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");
        using var browser = new ConnectBrowser();
        Assert.Equal(HttpStatusCode.OK, (await browser.ConnectAsync(new Uri(link.GetProperty("connect_url").GetString()!), AliceKey)).Status);

        var factory = _gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        string path;
        await using (var db = await factory.CreateDbContextAsync())
        {
            path = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(db.Database.GetConnectionString()).DataSource;
            await db.Database.ExecuteSqlRawAsync("PRAGMA wal_checkpoint(TRUNCATE);");
        }

        var needle = Encoding.UTF8.GetBytes(AliceKey);
        foreach (var file in new[] { path, path + "-wal" }.Where(File.Exists))
        {
            byte[] bytes;
            using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                bytes = new byte[stream.Length];
                stream.ReadExactly(bytes);
            }

            Assert.True(bytes.AsSpan().IndexOf(needle) < 0, $"the key is readable in {Path.GetFileName(file)}");
        }

        // And the vault still decrypts it for the account, not for another.
        var vault = _gateway.Services.GetRequiredService<Qlaud.Connectors.Vault.CredentialVault>();
        var row = (await ConnectionsAsync()).Single();
        Assert.Equal(AliceKey, vault.Unprotect("default", row.CredentialCipher)!.Secret);
        Assert.Null(vault.Unprotect("acct-other", row.CredentialCipher));
    }

    [Fact]
    public async Task ConnectPage_WithoutTheAntiforgeryField_IsRefusedAndStoresNothing()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = _gateway.Http(alice);
        var (_, link) = await http.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");
        var url = new Uri(link.GetProperty("connect_url").GetString()!);

        // A cross-site form post: the attacker's page knows the link but has neither the cookie nor the form field.
        using var attacker = new ConnectBrowser();
        var (status, html) = await attacker.SubmitAsync(url, AliceKey, antiforgery: null);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("Nothing was stored", html, StringComparison.Ordinal);

        // A field copied from another browser's page does not pass without that browser's cookie either.
        using var victim = new ConnectBrowser();
        var (_, _, field) = await victim.OpenAsync(url);
        Assert.Equal(HttpStatusCode.BadRequest, (await attacker.SubmitAsync(url, AliceKey, field)).Status);

        Assert.Equal("pending", (await ConnectionsAsync()).Single().Status);
        Assert.Empty(_linear.Calls);
        Assert.Equal(HttpStatusCode.OK, (await victim.ConnectAsync(url, AliceKey)).Status); // the link itself still works
    }

    [Fact]
    public async Task ConnectLink_ExpiresAfterFifteenMinutes()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = _gateway.Http(alice);
        var (_, link) = await http.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");
        var url = new Uri(link.GetProperty("connect_url").GetString()!);
        using var browser = new ConnectBrowser();
        var (_, _, field) = await browser.OpenAsync(url);

        _clock.Advance(TimeSpan.FromMinutes(15) + TimeSpan.FromSeconds(1));

        var (status, html, _) = await browser.OpenAsync(url);
        Assert.Equal(HttpStatusCode.Gone, status);
        Assert.Contains("expired", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Gone, (await browser.SubmitAsync(url, AliceKey, field)).Status);
        Assert.Null((await ConnectionsAsync()).Single().CredentialCipher);

        var (unknown, unknownHtml, _) = await browser.OpenAsync(new Uri(_gateway.BaseUri, "/connect/" + new string('A', 43)));
        Assert.Equal(HttpStatusCode.NotFound, unknown);
        Assert.Contains("does not exist", unknownHtml, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connections_OfOneEndUser_AreInvisibleToAnother_AndRevokeErasesTheCredentials()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        var (_, bob) = await _gateway.MintKeyAsync("""{"end_user_id":"bob"}""");
        using var aliceHttp = _gateway.Http(alice);
        using var bobHttp = _gateway.Http(bob);
        var (_, link) = await aliceHttp.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");
        string id = link.GetProperty("connection_id").GetString()!;
        using var browser = new ConnectBrowser();
        await browser.ConnectAsync(new Uri(link.GetProperty("connect_url").GetString()!), AliceKey);

        var (_, bobList) = await bobHttp.GetJsonAsync("/v1/connections");
        Assert.Equal(0, bobList.GetProperty("data").GetArrayLength());
        var (_, bobConnectors) = await bobHttp.GetJsonAsync("/v1/connectors");
        Assert.Equal("not_connected", bobConnectors.GetProperty("data").EnumerateArray().Single(static c => c.GetProperty("id").GetString() == "linear").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await bobHttp.DeleteJsonAsync($"/v1/connections/{id}")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await bobHttp.PostJsonAsync("/v1/connections", """{"connector":"linear","end_user_id":"alice"}""")).Status);
        Assert.Equal("active", (await ConnectionAsync(id)).Status);

        // The account's master key sees it; the end user revokes it.
        using var master = _gateway.Http();
        var (_, all) = await master.GetJsonAsync("/v1/connections?end_user_id=alice");
        Assert.Equal(id, Assert.Single(all.GetProperty("data").EnumerateArray()).GetProperty("id").GetString());
        var (deleted, body) = await aliceHttp.DeleteJsonAsync($"/v1/connections/{id}");
        Assert.Equal(HttpStatusCode.OK, deleted);
        Assert.True(body.GetProperty("deleted").GetBoolean());
        var revoked = await ConnectionAsync(id);
        Assert.Equal("revoked", revoked.Status);
        Assert.Null(revoked.CredentialCipher);
        Assert.Equal(HttpStatusCode.NotFound, (await aliceHttp.DeleteJsonAsync("/v1/connections/conn_missing")).Status);
    }

    [Fact]
    public async Task ErasingTheEndUser_DeletesTheirConnectionsAndLinks()
    {
        var (_, alice) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        using var http = _gateway.Http(alice);
        var (_, link) = await http.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");
        using var browser = new ConnectBrowser();
        await browser.ConnectAsync(new Uri(link.GetProperty("connect_url").GetString()!), AliceKey);
        var (_, pendingLink) = await http.PostJsonAsync("/v1/connections", """{"connector":"linear"}""");

        using var master = _gateway.Http();
        var (status, erased) = await master.DeleteJsonAsync("/v1/end_users/alice");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, erased.GetProperty("connections_deleted").GetInt32());
        Assert.Empty(await ConnectionsAsync());
        var (linkStatus, _, _) = await browser.OpenAsync(new Uri(pendingLink.GetProperty("connect_url").GetString()!));
        Assert.Equal(HttpStatusCode.NotFound, linkStatus);
    }

    [Fact]
    public async Task CreateConnection_RefusesUnknownAndOpenConnectorsAndBadBodies()
    {
        using var http = _gateway.Http();
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostJsonAsync("/v1/connections", """{"connector":"nope"}""")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostJsonAsync("/v1/connections", """{"connector":"deepwiki"}""")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostJsonAsync("/v1/connections", """{"connector":"linear","extra":1}""")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostJsonAsync("/v1/connections", "{}")).Status);
        Assert.Empty(await ConnectionsAsync());
    }

    private async Task<List<ConnectionEntity>> ConnectionsAsync()
    {
        var factory = _gateway.Services.GetRequiredService<IDbContextFactory<QlaudDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        return await db.Connections.AsNoTracking().ToListAsync();
    }

    private async Task<ConnectionEntity> ConnectionAsync(string id) => (await ConnectionsAsync()).Single(c => c.Id == id);
}
