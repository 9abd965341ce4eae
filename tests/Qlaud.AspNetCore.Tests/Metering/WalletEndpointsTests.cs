using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Metering;

namespace Qlaud.AspNetCore.Tests.Metering;

/// <summary><c>/v1/wallet</c> and <c>/v1/wallet/credit</c> over real HTTP.</summary>
public sealed class WalletEndpointsTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Credit_ThenUsage_WalletShowsBalanceReservedAndEntries()
    {
        using var admin = _gateway.Http();
        var (credited, credit) = await admin.PostJsonAsync("/v1/wallet/credit", """{"amount_usd":12.5,"note":"first top-up"}""");
        var (_, secret) = await _gateway.MintKeyAsync();
        var caller = await _gateway.CallerAsync(secret);
        await _gateway.SettleAsync(caller, 1_234);
        var held = await _gateway.Services.GetRequiredService<ISpendGuard>().ReserveAsync(caller, new SpendEstimate(1, 1, 500), default);

        var (status, wallet) = await admin.GetJsonAsync("/v1/wallet");

        Assert.Equal(HttpStatusCode.Created, credited);
        Assert.Equal(12_500_000, credit.GetProperty("balance_micros").GetInt64());
        Assert.Equal("credit", credit.GetProperty("entry").GetProperty("kind").GetString());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("default", wallet.GetProperty("account_id").GetString());
        Assert.Equal(12_500_000 - 1_234, wallet.GetProperty("balance_micros").GetInt64());
        Assert.Equal(12.498766m, wallet.GetProperty("balance_usd").GetDecimal());
        Assert.Equal(500, wallet.GetProperty("reserved_micros").GetInt64());
        Assert.Equal(12_500_000 - 1_234 - 500, wallet.GetProperty("available_micros").GetInt64());
        Assert.False(wallet.GetProperty("enforced").GetBoolean());
        var entries = wallet.GetProperty("recent_entries").EnumerateArray().ToList();
        Assert.Equal(["usage", "credit"], entries.Select(static e => e.GetProperty("kind").GetString()));
        Assert.Equal(-1_234, entries[0].GetProperty("amount_micros").GetInt64());
        Assert.Equal(1_234, entries[0].GetProperty("cost_micros").GetInt64());
        Assert.Equal("user-1", entries[0].GetProperty("end_user_id").GetString());
        Assert.Equal("first top-up", entries[1].GetProperty("note").GetString());
        _gateway.Services.GetRequiredService<ISpendGuard>().Release(held.Reservation!);
    }

    [Fact]
    public async Task Credit_SameIdempotencyKeyTwice_CreditsOnce()
    {
        using var admin = _gateway.Http();
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = "topup-42" };

        var first = await JsonHttp.SendAsync(admin, HttpMethod.Post, "/v1/wallet/credit", """{"amount_usd":3}""", headers);
        var second = await JsonHttp.SendAsync(admin, HttpMethod.Post, "/v1/wallet/credit", """{"amount_usd":3}""", headers);

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.True(second.Body.GetProperty("duplicate").GetBoolean());
        Assert.Equal(3_000_000, (await admin.GetJsonAsync("/v1/wallet")).Body.GetProperty("balance_micros").GetInt64());
    }

    [Fact]
    public async Task Adjustment_Negative_LowersBalance()
    {
        using var admin = _gateway.Http();

        var (status, body) = await admin.PostJsonAsync("/v1/wallet/credit", """{"amount_usd":-0.25,"kind":"adjustment","note":"correction"}""");

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(-250_000, body.GetProperty("balance_micros").GetInt64());
        Assert.Equal("adjustment", body.GetProperty("entry").GetProperty("kind").GetString());
    }

    [Theory]
    [InlineData("""{"amount_usd":-1}""")]
    [InlineData("""{"amount_usd":0}""")]
    [InlineData("""{"amount_usd":"10"}""")]
    [InlineData("""{"amount_usd":2000000}""")]
    [InlineData("""{"amount_usd":1.0000001}""")]
    [InlineData("""{"amount_usd":1,"kind":"gift"}""")]
    [InlineData("""{}""")]
    public async Task Credit_InvalidAmountOrKind_Answers400(string json)
    {
        using var admin = _gateway.Http();

        var (status, body) = await admin.PostJsonAsync("/v1/wallet/credit", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", body.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(0, (await admin.GetJsonAsync("/v1/wallet")).Body.GetProperty("balance_micros").GetInt64());
    }

    [Fact]
    public async Task Credit_WithAStandardKey_Answers403()
    {
        var (_, secret) = await _gateway.MintKeyAsync();
        using var user = _gateway.Http(secret);

        var (status, _) = await user.PostJsonAsync("/v1/wallet/credit", """{"amount_usd":100}""");

        Assert.Equal(HttpStatusCode.Forbidden, status);
    }

    [Fact]
    public async Task Wallet_WithoutKey_Answers401()
    {
        using var anonymous = _gateway.Http(key: null);

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetJsonAsync("/v1/wallet")).Status);
    }

    [Fact]
    public async Task Credit_WithAnAdminScopeKey_Answers403AndTheBalanceStays()
    {
        var (_, secret) = await _gateway.MintKeyAsync("""{"name":"ops","scope":"admin"}""");
        using var ops = _gateway.Http(secret);

        var (status, body) = await ops.PostJsonAsync("/v1/wallet/credit", """{"amount_usd":1000000}""");

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("insufficient_permissions", body.GetProperty("error").GetProperty("code").GetString());
        using var admin = _gateway.Http();
        Assert.Equal(0, (await admin.GetJsonAsync("/v1/wallet")).Body.GetProperty("balance_micros").GetInt64());
    }

    [Fact]
    public async Task Credit_BootstrapKeyNamesAnotherAccount_CreditsOnlyThatWallet()
    {
        using var admin = _gateway.Http();
        var (_, account) = await admin.PostJsonAsync("/v1/accounts", """{"name":"tenant"}""");
        string tenantId = account.GetProperty("id").GetString()!;

        var (status, credit) = await admin.PostJsonAsync("/v1/wallet/credit", $$"""{"amount_usd":3,"account_id":"{{tenantId}}"}""");

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(3_000_000, credit.GetProperty("balance_micros").GetInt64());
        using var tenant = _gateway.Http(account.GetProperty("master_key").GetProperty("secret").GetString());
        Assert.Equal(3_000_000, (await tenant.GetJsonAsync("/v1/wallet")).Body.GetProperty("balance_micros").GetInt64());
        Assert.Equal(0, (await admin.GetJsonAsync("/v1/wallet")).Body.GetProperty("balance_micros").GetInt64());
    }
}
