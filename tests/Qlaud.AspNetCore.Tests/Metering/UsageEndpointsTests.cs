using System.Net;
using System.Text.Json;
using Qlaud.AspNetCore.Tests.Infrastructure;

namespace Qlaud.AspNetCore.Tests.Metering;

/// <summary><c>GET /v1/usage</c> and <c>GET /v1/keys/{id}/usage</c> over real HTTP.</summary>
public sealed class UsageEndpointsTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Usage_MasterKey_RollupsEqualTheSumOfLedgerEntries()
    {
        var (aliceId, aliceSecret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        var (bobId, bobSecret) = await _gateway.MintKeyAsync("""{"end_user_id":"bob"}""");
        var alice = await _gateway.CallerAsync(aliceSecret);
        var bob = await _gateway.CallerAsync(bobSecret);
        await _gateway.SettleAsync(alice, 100, "fake-gpt", input: 40, output: 4, cacheRead: 10);
        await _gateway.SettleAsync(alice, 250, "fake-claude", input: 50, output: 5);
        await _gateway.SettleAsync(bob, 75, "fake-gpt", input: 30, output: 3);
        using var admin = _gateway.Http();
        await admin.PostJsonAsync("/v1/wallet/credit", """{"amount_usd":1}""");
        long from = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds(), to = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeMilliseconds();

        var (status, usage) = await admin.GetJsonAsync($"/v1/usage?from_ms={from}&to_ms={to}");
        var (_, wallet) = await admin.GetJsonAsync("/v1/wallet?limit=100");

        Assert.Equal(HttpStatusCode.OK, status);
        var ledger = wallet.GetProperty("recent_entries").EnumerateArray().Where(static e => e.GetProperty("kind").GetString() == "usage").ToList();
        var totals = usage.GetProperty("totals");
        Assert.Equal(ledger.Count, totals.GetProperty("requests").GetInt64());
        Assert.Equal(ledger.Sum(static e => e.GetProperty("cost_micros").GetInt64()), totals.GetProperty("cost_micros").GetInt64());
        Assert.Equal(425, totals.GetProperty("cost_micros").GetInt64());
        Assert.Equal(ledger.Sum(static e => e.GetProperty("input_tokens").GetInt64()), totals.GetProperty("input_tokens").GetInt64());
        Assert.Equal(ledger.Sum(static e => e.GetProperty("output_tokens").GetInt64()), totals.GetProperty("output_tokens").GetInt64());
        Assert.Equal(10, totals.GetProperty("cache_read_tokens").GetInt64());
        foreach (string group in (string[])["by_key", "by_model", "by_end_user", "by_day"])
        {
            Assert.Equal(425, usage.GetProperty(group).EnumerateArray().Sum(static r => r.GetProperty("cost_micros").GetInt64()));
            Assert.Equal(3, usage.GetProperty(group).EnumerateArray().Sum(static r => r.GetProperty("requests").GetInt64()));
        }

        Assert.Equal(350, Row(usage, "by_key", "key_id", aliceId).GetProperty("cost_micros").GetInt64());
        Assert.Equal(75, Row(usage, "by_key", "key_id", bobId).GetProperty("cost_micros").GetInt64());
        Assert.Equal(175, Row(usage, "by_model", "model", "fake-gpt").GetProperty("cost_micros").GetInt64());
        Assert.Equal(350, Row(usage, "by_end_user", "end_user_id", "alice").GetProperty("cost_micros").GetInt64());
        Assert.Equal(DateTimeOffset.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            Assert.Single(usage.GetProperty("by_day").EnumerateArray()).GetProperty("date").GetString());
    }

    [Fact]
    public async Task Usage_StandardKey_SeesOnlyItsOwnUsage()
    {
        var (aliceId, aliceSecret) = await _gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        var (_, bobSecret) = await _gateway.MintKeyAsync("""{"end_user_id":"bob"}""");
        await _gateway.SettleAsync(await _gateway.CallerAsync(aliceSecret), 10);
        await _gateway.SettleAsync(await _gateway.CallerAsync(bobSecret), 99);
        using var alice = _gateway.Http(aliceSecret);

        var (status, usage) = await alice.GetJsonAsync("/v1/usage");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10, usage.GetProperty("totals").GetProperty("cost_micros").GetInt64());
        Assert.Equal(aliceId, Assert.Single(usage.GetProperty("by_key").EnumerateArray()).GetProperty("key_id").GetString());
        Assert.Equal(aliceId, usage.GetProperty("key_id").GetString());
    }

    [Fact]
    public async Task Usage_FormatCsv_OneLinePerDayEndUserKeyAndModel()
    {
        var (id, secret) = await _gateway.MintKeyAsync("""{"end_user_id":"=cmd|evil, inc"}""");
        var caller = await _gateway.CallerAsync(secret);
        await _gateway.SettleAsync(caller, 100, "fake-gpt");
        await _gateway.SettleAsync(caller, 50, "fake-gpt");
        await _gateway.SettleAsync(caller, 7, "fake-claude");
        using var admin = _gateway.Http();

        using var response = await admin.GetAsync("/v1/usage?format=csv");
        string csv = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        var lines = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("date,end_user_id,key_id,model,requests,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,cost_micros,cost_usd,upstream_cost_micros,tool", lines[0]);
        Assert.Equal(3, lines.Length);
        string day = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"{day},\"'=cmd|evil, inc\",{id},fake-gpt,2,20,10,0,0,0,150,0.00015,150,", lines);
        Assert.Contains($"{day},\"'=cmd|evil, inc\",{id},fake-claude,1,10,5,0,0,0,7,0.000007,7,", lines);
    }

    [Theory]
    [InlineData("?from_ms=10&to_ms=5")]
    [InlineData("?from_ms=abc")]
    [InlineData("?format=xml")]
    public async Task Usage_BadQuery_Answers400(string query)
    {
        using var admin = _gateway.Http();

        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetJsonAsync("/v1/usage" + query)).Status);
    }

    [Fact]
    public async Task KeyUsage_RecentEntriesOfThatKeyNewestFirst()
    {
        var (id, secret) = await _gateway.MintKeyAsync();
        var caller = await _gateway.CallerAsync(secret);
        await _gateway.SettleAsync(caller, 1);
        await _gateway.SettleAsync(caller, 2);
        await _gateway.SettleAsync(caller, 3);
        using var admin = _gateway.Http();

        var (status, body) = await admin.GetJsonAsync($"/v1/keys/{id}/usage?limit=2");
        var (_, key) = await admin.GetJsonAsync($"/v1/keys/{id}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([3L, 2L], body.GetProperty("data").EnumerateArray().Select(static e => e.GetProperty("cost_micros").GetInt64()));
        Assert.Equal(0.000006m, key.GetProperty("spend_usd").GetDecimal());
        Assert.NotEqual(JsonValueKind.Null, key.GetProperty("last_used_at").ValueKind);
    }

    private static JsonElement Row(JsonElement usage, string group, string field, string value)
        => usage.GetProperty(group).EnumerateArray().Single(r => r.GetProperty(field).GetString() == value);
}
