using System.Net;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Metering;

/// <summary>A route's long-context tier over real HTTP: a request whose input passes the threshold is charged at the tier's
/// rates, one below it at the normal rates, and <c>GET /v1/catalog</c> shows the tier.</summary>
public sealed class LongContextPricingTests : IAsyncLifetime
{
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
    {
        ["Qlaud:Models:0:Routes:0:LongContextThresholdTokens"] = "100",
        ["Qlaud:Models:0:Routes:0:LongContextInputPerMTok"] = "10",
        ["Qlaud:Models:0:Routes:0:LongContextOutputPerMTok"] = "20",
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Theory]
    [InlineData(50, 70)]    // 50 × $1 + 10 × $2 per million tokens
    [InlineData(100, 120)]  // at the threshold: still the normal rates
    [InlineData(150, 1700)] // 150 × $10 + 10 × $20 per million tokens
    public async Task ChatCompletion_ChargedAtTheTierItsInputFallsIn(int inputTokens, long expectedMicros)
    {
        var (keyId, key) = await _gateway.MintKeyAsync("""{"end_user_id":"long"}""");
        using var http = _gateway.Http(key);
        _gateway.Fake.Enqueue(FakeReply.Text("ok") with { Usage = new FakeUsage { InputTokens = inputTokens, OutputTokens = 10 } });

        var (status, _) = await http.PostJsonAsync("/v1/chat/completions", """{"model":"fake-gpt","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var entry = await _gateway.SingleUsageEntryAsync(keyId);
        Assert.Equal(expectedMicros, entry.GetProperty("cost_micros").GetInt64());
    }

    [Fact]
    public async Task Catalog_ShowsTheLongContextTier()
    {
        using var http = _gateway.Http(null);
        var (_, catalog) = await http.GetJsonAsync("/v1/catalog");
        var model = catalog.GetProperty("data").EnumerateArray().Single(static m => m.GetProperty("id").GetString() == "fake-gpt");
        var tier = model.GetProperty("routes")[0].GetProperty("pricing").GetProperty("long_context");
        Assert.Equal(100, tier.GetProperty("above_input_tokens").GetInt64());
        Assert.Equal(10m, tier.GetProperty("input_per_mtok").GetDecimal());
        Assert.Equal(20m, tier.GetProperty("output_per_mtok").GetDecimal());
    }
}
