using System.Net;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Connectors.Tests.Fakes;
using Qlaud.Connectors.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Tests.Postgres;

namespace Qlaud.Connectors.Tests.Connections;

/// <summary>Two gateways on one PostgreSQL database and one OAuth vendor with single-use rotating refresh tokens: an expired
/// access token used on both at once is refreshed once, and neither node sends a refresh token twice (which would log the end
/// user out).</summary>
public sealed class OAuthAcrossGatewaysTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private PostgresServer _server = null!;
    private string _database = null!;
    private FakeOAuthVendor _vendor = null!;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.GetAsync();
        _database = await _server.CreateDatabaseAsync();
        _vendor = await FakeOAuthVendor.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _vendor.DisposeAsync();
        await _server.DropDatabaseAsync(_database);
    }

    private Dictionary<string, string?> Settings() => new()
    {
        ["Qlaud:Storage:Provider"] = "postgres",
        ["Qlaud:Storage:ConnectionString"] = _database,
        ["Qlaud:Search:Enabled"] = "false",
        ["Qlaud:Connectors:Servers:acme:Url"] = _vendor.Endpoint.AbsoluteUri,
        ["Qlaud:Connectors:Servers:acme:Name"] = "Acme",
        ["Qlaud:Connectors:Servers:acme:Auth:Kind"] = "oauth",
    };

    [Fact]
    public async Task ExpiredToken_UsedOnTwoGatewaysAtOnce_IsRefreshedOnce()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        await using var a = await GatewayHost.StartAsync(fake, Settings(), disposeFake: false, services: s => s.AddSingleton<TimeProvider>(_clock));
        await using var b = await GatewayHost.StartAsync(fake, Settings(), disposeFake: false, services: s => s.AddSingleton<TimeProvider>(_clock));
        var (keyId, alice) = await a.MintKeyAsync("""{"end_user_id":"alice"}""");
        using (var http = a.Http(alice))
        {
            var (_, link) = await http.PostJsonAsync("/v1/connections", """{"connector":"acme"}""");
            using var browser = new ConnectBrowser();
            Assert.Equal(HttpStatusCode.OK, (await browser.SignInAsync(new Uri(link.GetProperty("connect_url").GetString()!))).Status);
        }

        var caller = new QlaudCaller("default", keyId, "alice", IsMaster: false);
        var onA = (await a.Services.GetRequiredService<IQlaudTools>().GetFunctionsAsync(caller)).Single(f => f.Name == "acme__create_issue");
        var onB = (await b.Services.GetRequiredService<IQlaudTools>().GetFunctionsAsync(caller)).Single(f => f.Name == "acme__create_issue");
        _clock.Advance(TimeSpan.FromHours(2)); // past the access token's hour

        var results = await Task.WhenAll(
            onA.InvokeAsync(new AIFunctionArguments { ["title"] = "from a" }).AsTask(),
            onB.InvokeAsync(new AIFunctionArguments { ["title"] = "from b" }).AsTask());

        Assert.Equal(1, _vendor.Refreshes);
        Assert.Equal(0, _vendor.ReusedRefreshTokens);
        Assert.Equal(2, _vendor.Calls.Count);
        Assert.Single(_vendor.Calls.Select(static c => c.Token).Distinct());
        Assert.All(results, static r => Assert.DoesNotContain("refused", r?.ToString() ?? "", StringComparison.OrdinalIgnoreCase));
    }
}
