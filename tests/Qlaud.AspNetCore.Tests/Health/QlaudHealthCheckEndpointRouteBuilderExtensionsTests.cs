using System.Net;
using Microsoft.AspNetCore.Builder;
using Qlaud.AspNetCore.Tests.Infrastructure;

namespace Qlaud.AspNetCore.Tests.Health;

/// <summary><c>MapQlaudHealthChecks()</c>: <c>/healthz</c> and <c>/readyz</c> over real HTTP, without a key.</summary>
public sealed class QlaudHealthCheckEndpointRouteBuilderExtensionsTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Healthz_NoKey_Answers200Healthy()
    {
        using var http = _gateway.Http(key: null);

        var (status, body) = await http.GetJsonAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Readyz_DatabaseAndLedgerFine_Answers200WithBothChecks()
    {
        using var http = _gateway.Http(key: null);

        var (status, body) = await http.GetJsonAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        var checks = body.GetProperty("checks");
        Assert.Equal("Healthy", checks.GetProperty("qlaud_storage").GetProperty("status").GetString());
        var ledger = checks.GetProperty("qlaud_ledger");
        Assert.Equal("Healthy", ledger.GetProperty("status").GetString());
        Assert.Equal(0, ledger.GetProperty("data").GetProperty("queued").GetInt32());
        Assert.Equal(100_000, ledger.GetProperty("data").GetProperty("capacity").GetInt32());
    }

    [Fact]
    public void MapQlaudHealthChecks_WithoutAddQlaud_ThrowsNamingTheCall()
    {
        var app = WebApplication.CreateSlimBuilder().Build();

        var ex = Assert.Throws<InvalidOperationException>(() => app.MapQlaudHealthChecks());

        Assert.Contains("AddQlaud()", ex.Message, StringComparison.Ordinal);
    }
}
