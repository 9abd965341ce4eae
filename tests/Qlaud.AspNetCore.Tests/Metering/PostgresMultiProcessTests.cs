using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Npgsql;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Tests.Postgres;
using Xunit.Abstractions;

namespace Qlaud.AspNetCore.Tests.Metering;

/// <summary>
/// Three real <c>Qlaud.Server</c> processes on one PostgreSQL database: concurrent requests spread across them on capped keys
/// never spend past a cap and reach the upstream only when admitted; <c>kill -9</c> of one node while it holds a key's whole
/// budget as its lease leaves the key refused (402, no upstream call) until the lease expires, then fully usable again; every
/// key's persisted spend equals its ledger sum.
/// </summary>
/// <remarks>Bounded: 3 processes, 12 keys, 4 clients × 40 requests, a 4 s lease; a few seconds of load on loopback.</remarks>
public sealed class PostgresMultiProcessTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Keys = 12;
    private const decimal CapUsd = 0.0015m; // 1,500 micro-USD: at most 10 of the test's 140-micro-USD requests per key, and each key is sent 13 or 14

    private PostgresServer _server = null!;
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.GetAsync();
        _database = await _server.CreateDatabaseAsync();
    }

    public async Task DisposeAsync() => await _server.DropDatabaseAsync(_database);

    private Dictionary<string, string> Environment(FakeProviderServer fake) => new()
    {
        ["Qlaud__Bootstrap__MasterKey"] = GatewayHost.MasterKey,
        ["Qlaud__Storage__Provider"] = "postgres",
        ["Qlaud__Storage__ConnectionString"] = _database,
        ["Qlaud__Storage__LeaseSeconds"] = "4",
        ["Qlaud__Storage__LeaseSliceUsd"] = "1",
        ["Qlaud__Search__Enabled"] = "false",
        ["Qlaud__Routing__MaxRetries"] = "0",
        ["Qlaud__Providers__fake__Dialect"] = "openai",
        ["Qlaud__Providers__fake__BaseUrl"] = fake.OpenAIBaseUri.ToString(),
        ["Qlaud__Providers__fake__ApiKey"] = "sk-fake-openai",
        ["Qlaud__Models__0__Id"] = "fake-gpt",
        ["Qlaud__Models__0__Routes__0__Provider"] = "fake",
        ["Qlaud__Models__0__Routes__0__UpstreamModel"] = "upstream-gpt",
        ["Qlaud__Models__0__Routes__0__InputPerMTok"] = "1",
        ["Qlaud__Models__0__Routes__0__OutputPerMTok"] = "2",
        ["Logging__LogLevel__Default"] = "Warning",
        ["DOTNET_gcServer"] = "0",
    };

    private static HttpRequestMessage Chat(string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"fake-gpt","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", key);
        return request;
    }

    [Fact]
    public async Task ThreeProcesses_CapsHoldUnderLoad_AndAKilledNodesLeaseReturnsAfterExpiry()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Responder = static _ => FakeReply.Text("ok") with { Usage = new FakeUsage { InputTokens = 100, OutputTokens = 20 } }; // 140 micro-USD each
        var env = Environment(fake);
        await using var a = await ServerProcess.StartAsync(env, output);
        await using var b = await ServerProcess.StartAsync(env, output);
        await using var c = await ServerProcess.StartAsync(env, output);
        ServerProcess[] nodes = [a, b, c];

        var keyIds = new List<string>();
        var secrets = new List<string>();
        using (var admin = a.Http(GatewayHost.MasterKey))
        {
            for (int i = 0; i < Keys + 1; i++)
            {
                var (status, key) = await admin.PostJsonAsync("/v1/keys",
                    $$"""{"end_user_id":"user-{{i}}","max_spend_usd":{{CapUsd.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}""");
                Assert.Equal(HttpStatusCode.Created, status);
                keyIds.Add(key.GetProperty("id").GetString()!);
                secrets.Add(key.GetProperty("secret").GetString()!);
            }
        }

        // Load: 4 clients × 40 requests, round-robin over the three nodes and the first 12 keys.
        int ok = 0, refused = 0, other = 0;
        var workers = Enumerable.Range(0, 4).Select(client => Task.Run(async () =>
        {
            var clients = nodes.Select(n => n.Http(null)).ToArray();
            try
            {
                for (int n = 0; n < 40; n++)
                {
                    using var response = await clients[(client + n) % 3].SendAsync(Chat(secrets[(client * 7 + n) % Keys]));
                    _ = response.StatusCode switch
                    {
                        HttpStatusCode.OK => Interlocked.Increment(ref ok),
                        HttpStatusCode.PaymentRequired => Interlocked.Increment(ref refused),
                        _ => Interlocked.Increment(ref other),
                    };
                }
            }
            finally
            {
                foreach (var http in clients)
                {
                    http.Dispose();
                }
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromMinutes(3));
        output.WriteLine($"load: {ok} answered 200, {refused} refused 402, {other} other; upstream requests {fake.Requests.Count}");
        Assert.Equal(0, other);
        Assert.True(refused >= Keys * 3, $"the caps were not reached ({refused} refused)"); // 13 or 14 sent per key, at most 10 affordable
        Assert.Equal(ok, fake.Requests.Count); // every admitted request reached the upstream once, no refused one did

        // Node c takes the spare key's whole cap as its lease, then dies without handing it back.
        string spare = secrets[Keys];
        using (var http = c.Http(null))
        using (var first = await http.SendAsync(Chat(spare)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        c.Kill(); // SIGKILL: no hand-back
        int upstreamBefore = fake.Requests.Count;
        using (var http = a.Http(null))
        using (var blocked = await http.SendAsync(Chat(spare)))
        {
            Assert.Equal(HttpStatusCode.PaymentRequired, blocked.StatusCode); // the dead node's lease holds the budget
        }

        Assert.Equal(upstreamBefore, fake.Requests.Count);
        await Task.Delay(TimeSpan.FromSeconds(5)); // past the 4 s lease
        int served = 0;
        using (var http = a.Http(null))
        {
            for (int i = 0; i < 40; i++)
            {
                using var response = await http.SendAsync(Chat(spare));
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
                    break;
                }

                served++;
            }
        }

        output.WriteLine($"after the lease expired the spare key served {served} more requests");
        Assert.True(served >= 5, $"the spare key's budget did not come back ({served} served)"); // 1,500 − 140 left: the cap is usable again

        // Persisted spend equals the ledger, and no cap is exceeded.
        await a.DisposeAsync();
        await b.DisposeAsync();
        await using var connection = new NpgsqlConnection(_database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT k."Id", k."SpendMicros", k."MaxSpendMicros", COALESCE((SELECT SUM(l."CostMicros") FROM "LedgerEntries" l WHERE l."KeyId" = k."Id"), 0)
            FROM "ApiKeys" k WHERE k."Id" = ANY(@ids)
            """, connection);
        command.Parameters.AddWithValue("ids", keyIds.ToArray());
        await using var reader = await command.ExecuteReaderAsync();
        int rows = 0;
        while (await reader.ReadAsync())
        {
            rows++;
            long spend = reader.GetInt64(1), cap = reader.GetInt64(2), ledger = reader.GetInt64(3);
            Assert.True(spend <= cap, $"{reader.GetString(0)} spent {spend} of a cap of {cap}");
            Assert.Equal(ledger, spend);
        }

        Assert.Equal(Keys + 1, rows);
    }
}
