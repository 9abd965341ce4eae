using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Metering.Leasing;
using Qlaud.Tests.Postgres;

namespace Qlaud.AspNetCore.Tests.Metering;

/// <summary>Three gateways (each its own <c>AddQlaud()</c>/<c>MapQlaud()</c> app on Kestrel) on one PostgreSQL database and one
/// fake upstream: a capped key and a small enforced wallet hold across them, and over-cap requests never reach the upstream.</summary>
public sealed class PostgresScaleOutTests : IAsyncLifetime
{
    private PostgresServer _server = null!;
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.GetAsync();
        _database = await _server.CreateDatabaseAsync();
    }

    public async Task DisposeAsync() => await _server.DropDatabaseAsync(_database);

    private Dictionary<string, string?> Settings() => new()
    {
        ["Qlaud:Storage:Provider"] = "postgres",
        ["Qlaud:Storage:ConnectionString"] = _database,
        ["Qlaud:Search:Enabled"] = "false",
        ["Qlaud:Metering:EnforceWallet"] = "true",
        ["Qlaud:Storage:LeaseSliceUsd"] = "0.001",
        ["Qlaud:Storage:LeaseSlicePercent"] = "50",
    };

    [Fact]
    public async Task ChatCompletions_ThreeGatewaysHammerACappedKeyAndASmallWallet_NeitherIsExceededAndRefusedRequestsNeverReachTheUpstream()
    {
        // The key's requests alone want about 6,750 micro-USD, so it reaches its cap while the wallet still holds about 3,000
        // (the key's and the master key's requests take turns); then the master key's requests empty the wallet.
        const long CapMicros = 2_000, WalletMicros = 7_000;
        await using var fake = await FakeProviderServer.StartAsync();
        // Each answer costs 10 input tokens at $1 and 20 output tokens at $2 per MTok: 50 micro-USD; the worst case held for
        // max_tokens 50 is about 100 more.
        fake.Responder = static _ => FakeReply.Text("ok") with { Usage = new FakeUsage { InputTokens = 10, OutputTokens = 20 } };
        var gateways = new List<GatewayHost>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                gateways.Add(await GatewayHost.StartAsync(fake, Settings(), disposeFake: false));
            }

            using (var admin = gateways[0].Http())
            {
                Assert.Equal(HttpStatusCode.Created, (await admin.PostJsonAsync("/v1/wallet/credit", $$"""{"amount_usd":{{WalletMicros / 1_000_000m}}}""")).Status);
            }

            var (keyId, secret) = await gateways[1].MintKeyAsync($$"""{"end_user_id":"alice","max_spend_usd":{{CapMicros / 1_000_000m}}}""");
            int ok = 0, overCap = 0, overWallet = 0;
            var unexpected = new List<string>();

            // Three workers per gateway, 30 requests each (bounded): the key's requests alternate with the master key's, which
            // only the wallet limits. 270 requests want about 13,500 micro-USD against a 2,000 cap and a 7,000 wallet.
            await Task.WhenAll(gateways.SelectMany(gateway => Enumerable.Range(0, 3).Select(worker => Task.Run(async () =>
            {
                using var asKey = gateway.Http(secret);
                using var asMaster = gateway.Http();
                for (int i = 0; i < 30; i++)
                {
                    using var content = new StringContent("""{"model":"fake-gpt","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");
                    using var response = await ((i + worker) % 2 == 0 ? asKey : asMaster).PostAsync("/v1/chat/completions", content);
                    string body = await response.Content.ReadAsStringAsync();
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref ok);
                    }
                    else if (response.StatusCode == HttpStatusCode.PaymentRequired && body.Contains("spend_limit_exceeded", StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref overCap);
                    }
                    else if (response.StatusCode == HttpStatusCode.PaymentRequired && body.Contains("insufficient_balance", StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref overWallet);
                    }
                    else
                    {
                        lock (unexpected)
                        {
                            unexpected.Add($"{(int)response.StatusCode} {body}");
                        }
                    }
                }
            }))));

            Assert.Empty(unexpected);
            Assert.Equal(270, ok + overCap + overWallet);
            Assert.Equal(ok, fake.Requests.Count); // a refused request made no upstream call
            Assert.True(overCap > 0 && overWallet > 0, $"ok {ok}, over cap {overCap}, over wallet {overWallet}");

            // Clean shutdown: every ledger writer commits, every instance hands its leases back.
            foreach (var gateway in gateways)
            {
                await gateway.StopAsync();
            }

            var (keySpend, keyLedger, balance, walletLedger, leases) = await ReadAsync(keyId);
            Assert.True(keyLedger <= CapMicros, $"key spend {keyLedger} over its cap {CapMicros}");
            Assert.True(balance >= 0, $"wallet overdrawn: {balance}");
            Assert.Equal(keyLedger, keySpend);
            Assert.Equal(balance, walletLedger);
            Assert.Equal(ok * 50L, WalletMicros - balance);
            Assert.Equal(0, leases);
        }
        finally
        {
            foreach (var gateway in gateways)
            {
                await gateway.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ChatCompletions_GatewayCrashesHoldingTheWholeCap_AnotherServesItOnceTheLeaseExpires()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Responder = static _ => FakeReply.Text("ok") with { Usage = new FakeUsage { InputTokens = 10, OutputTokens = 20 } };
        var settings = Settings();
        settings["Qlaud:Metering:EnforceWallet"] = "false";
        settings["Qlaud:Storage:LeaseSliceUsd"] = "1";
        settings["Qlaud:Storage:LeaseSlicePercent"] = "100";
        settings["Qlaud:Storage:LeaseSeconds"] = "2";
        await using var crashing = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        await using var survivor = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        var (keyId, secret) = await crashing.MintKeyAsync("""{"end_user_id":"alice","max_spend_usd":0.001}""");

        var first = await ChatAsync(crashing, secret); // leases the whole cap: 1,000 micro-USD
        crashing.Services.GetRequiredService<BudgetLeases>().Abandon(); // no renewal, no hand-back, as after kill -9
        await crashing.StopAsync();
        var whileHeld = await ChatAsync(survivor, secret);
        int upstreamWhileHeld = fake.Requests.Count;
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // past the lease's expiry
        var afterExpiry = await ChatAsync(survivor, secret);
        await survivor.StopAsync();

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.PaymentRequired, whileHeld.Status);
        Assert.Contains("spend_limit_exceeded", whileHeld.Body, StringComparison.Ordinal);
        Assert.Equal(1, upstreamWhileHeld);
        Assert.Equal(HttpStatusCode.OK, afterExpiry.Status);
        Assert.Equal(2, fake.Requests.Count);
        var (keySpend, keyLedger, _, _, leases) = await ReadAsync(keyId);
        Assert.Equal(100, keyLedger);
        Assert.Equal(keyLedger, keySpend);
        Assert.Equal(0, leases);
    }

    private static async Task<(HttpStatusCode Status, string Body)> ChatAsync(GatewayHost gateway, string key)
    {
        using var http = gateway.Http(key);
        using var content = new StringContent("""{"model":"fake-gpt","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("/v1/chat/completions", content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<(long KeySpend, long KeyLedger, long Balance, long WalletLedger, long Leases)> ReadAsync(string keyId)
    {
        await using var connection = new NpgsqlConnection(_database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT (SELECT "PeriodSpendMicros" FROM "ApiKeys" WHERE "Id" = @key),
                   (SELECT COALESCE(SUM("CostMicros"), 0)::bigint FROM "LedgerEntries" WHERE "KeyId" = @key),
                   (SELECT "BalanceMicros" FROM "Wallets" WHERE "AccountId" = 'default'),
                   (SELECT COALESCE(SUM("AmountMicros"), 0)::bigint FROM "LedgerEntries" WHERE "AccountId" = 'default'),
                   (SELECT count(*) FROM budget_leases) + (SELECT COALESCE(SUM("LeasedMicros"), 0)::bigint FROM "ApiKeys") + (SELECT COALESCE(SUM("LeasedMicros"), 0)::bigint FROM "Wallets")
            """, connection);
        command.Parameters.AddWithValue("key", keyId);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
    }
}
