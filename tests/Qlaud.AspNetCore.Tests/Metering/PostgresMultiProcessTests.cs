using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Npgsql;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.AspNetCore.Tests.Threads;
using Qlaud.FakeProvider;
using Qlaud.Tests.Postgres;
using Xunit.Abstractions;

namespace Qlaud.AspNetCore.Tests.Metering;

/// <summary>
/// Three real <c>Qlaud.Server</c> processes on one PostgreSQL database under concurrent load on capped keys and an enforced
/// wallet; one is killed (<c>kill -9</c>) while its requests are in flight upstream. The survivors' admitted requests reach the
/// upstream once each and are charged once each; the dead node loses only the charges of its requests in flight (and of the
/// answers it settled in its last ledger batch); its lease on a key returns after the lease expiry; no cap is exceeded and
/// every key's spend and the wallet's balance equal their ledger sums.
/// </summary>
/// <remarks>
/// Bounded: 3 processes, 13 keys, 6 clients × 30 requests with a 250 ms upstream latency, a 4 s lease; about 15 s on loopback.
/// Each node is sent its own model id (<c>fake-a</c>, <c>fake-b</c>, <c>fake-c</c>, one upstream model each), so upstream
/// requests and ledger rows are attributed to the node that made them.
/// </remarks>
public sealed class PostgresMultiProcessTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Keys = 12;
    private const decimal CapUsd = 0.0015m; // 1,500 micro-USD: at most 10 of the test's 140-micro-USD requests per key
    private const decimal SpareCapUsd = 0.01m; // the key only the killed node serves during the load: its whole cap is that node's lease
    private const decimal WalletUsd = 1m;
    private const int Clients = 6, PerClient = 30;
    private static readonly string[] Names = ["a", "b", "c"];

    private PostgresServer _server = null!;
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.GetAsync();
        _database = await _server.CreateDatabaseAsync();
    }

    public async Task DisposeAsync() => await _server.DropDatabaseAsync(_database);

    private Dictionary<string, string> Environment(FakeProviderServer fake)
    {
        var env = new Dictionary<string, string>
        {
            ["Qlaud__Bootstrap__MasterKey"] = GatewayHost.MasterKey,
            ["Qlaud__Storage__Provider"] = "postgres",
            ["Qlaud__Storage__ConnectionString"] = _database,
            ["Qlaud__Storage__LeaseSeconds"] = "4",
            ["Qlaud__Storage__LeaseSliceUsd"] = "0.02", // a key's whole cap; a fiftieth of the wallet, so each node leases a part of it
            ["Qlaud__Metering__EnforceWallet"] = "true",
            ["Qlaud__Routing__MaxRetries"] = "0",
            ["Qlaud__Providers__fake__Dialect"] = "openai",
            ["Qlaud__Providers__fake__BaseUrl"] = fake.OpenAIBaseUri.ToString(),
            ["Qlaud__Providers__fake__ApiKey"] = "sk-fake-openai",
            ["Logging__LogLevel__Default"] = "Warning",
            ["DOTNET_gcServer"] = "0",
        };
        for (int i = 0; i < Names.Length; i++)
        {
            env[$"Qlaud__Models__{i}__Id"] = $"fake-{Names[i]}";
            env[$"Qlaud__Models__{i}__Routes__0__Provider"] = "fake";
            env[$"Qlaud__Models__{i}__Routes__0__UpstreamModel"] = $"upstream-{Names[i]}";
            env[$"Qlaud__Models__{i}__Routes__0__InputPerMTok"] = "1";
            env[$"Qlaud__Models__{i}__Routes__0__OutputPerMTok"] = "2";
        }

        return env;
    }

    private static HttpRequestMessage Chat(string key, int node)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"fake-{{Names[node]}}","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", key);
        return request;
    }

    private static int UpstreamCount(FakeProviderServer fake, int node) => fake.Requests.Count(r => r.Model == $"upstream-{Names[node]}");

    [Fact]
    public async Task ThreeProcesses_CapsHoldUnderLoad_AndANodeKilledMidRunLosesOnlyItsInFlightCharges()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Responder = static _ => FakeReply.Text("ok") with
        {
            Usage = new FakeUsage { InputTokens = 100, OutputTokens = 20 }, // 140 micro-USD each
            Latency = TimeSpan.FromMilliseconds(250), // so requests are in flight when a node dies
        };
        var env = Environment(fake);
        await using var a = await ServerProcess.StartAsync(env, output);
        await using var b = await ServerProcess.StartAsync(env, output);
        await using var c = await ServerProcess.StartAsync(env, output);
        ServerProcess[] nodes = [a, b, c];
        const int Dead = 2;

        var keyIds = new List<string>();
        var secrets = new List<string>();
        using (var admin = a.Http(GatewayHost.MasterKey))
        {
            Assert.Equal(HttpStatusCode.Created, (await admin.PostJsonAsync("/v1/wallet/credit", $$"""{"amount_usd":{{WalletUsd.ToString(CultureInfo.InvariantCulture)}}}""")).Status);
            for (int i = 0; i <= Keys; i++)
            {
                decimal cap = i < Keys ? CapUsd : SpareCapUsd;
                var (status, key) = await admin.PostJsonAsync("/v1/keys",
                    $$"""{"end_user_id":"user-{{i}}","max_spend_usd":{{cap.ToString(CultureInfo.InvariantCulture)}}}""");
                Assert.Equal(HttpStatusCode.Created, status);
                keyIds.Add(key.GetProperty("id").GetString()!);
                secrets.Add(key.GetProperty("secret").GetString()!);
            }
        }

        string spare = secrets[Keys];

        // Load: each client sends its requests round-robin over the nodes (the dead node skipped once it is known dead); every
        // other request to the node that will be killed is on the spare key, which no other node serves during the load.
        var ok = new int[3];
        var refused = new int[3];
        var other = new ConcurrentQueue<string>();
        var okIds = new ConcurrentBag<(string RequestId, long AnsweredAtMs)>(); // the dead node's answers
        int failedOnDead = 0;
        int contended = 0;
        int deadKnown = 0;
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
        {
            var clients = nodes.Select(n => n.Http(null)).ToArray();
            try
            {
                for (int n = 0; n < PerClient; n++)
                {
                    int node = (client + n) % 3;
                    if (node == Dead && Volatile.Read(ref deadKnown) != 0)
                    {
                        node = n % 2;
                    }

                    string key = node == Dead && n % 2 == 0 ? spare : secrets[(client * 7 + n) % Keys];
                    try
                    {
                        using var response = await clients[node].SendAsync(Chat(key, node));
                        await response.Content.ReadAsByteArrayAsync();
                        switch (response.StatusCode)
                        {
                            case HttpStatusCode.OK:
                                Interlocked.Increment(ref ok[node]);
                                if (node == Dead)
                                {
                                    okIds.Add((response.Headers.GetValues("x-qlaud-request-id").Single(), clock.ElapsedMilliseconds));
                                }

                                break;
                            case HttpStatusCode.PaymentRequired:
                                Interlocked.Increment(ref refused[node]);
                                break;
                            case HttpStatusCode.ServiceUnavailable when (await response.Content.ReadAsStringAsync()).Contains("\"budget_lease_contention\"", StringComparison.Ordinal):
                                Interlocked.Increment(ref contended); // documented: refused before any upstream call when other requests kept using up the leases
                                break;
                            default:
                                other.Enqueue($"{Names[node]}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                                break;
                        }
                    }
                    catch (HttpRequestException) when (node == Dead)
                    {
                        Interlocked.Increment(ref failedOnDead); // the node died with this request outstanding
                    }
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

        // On PostgreSQL no node loads SQLite: neither the Microsoft.Data.Sqlite assembly nor the native library.
        foreach (var node in nodes)
        {
            var sqlite = node.MappedFiles().Where(static f => f.Contains("sqlite", StringComparison.OrdinalIgnoreCase)).ToList();
            Assert.True(sqlite.Count == 0, $"process {node.ProcessId} loaded SQLite: {string.Join(", ", sqlite)}");
        }

        // Kill the node right after the upstream received one of its requests (so at least that one is in flight), once it
        // has served a fair part of its share.
        int seenOnDead = 0;
        await fake.WaitForRequestAsync(r => r.Model == $"upstream-{Names[Dead]}" && ++seenOnDead >= 15, TimeSpan.FromSeconds(60));
        Volatile.Write(ref deadKnown, 1); // requests sent from now on avoid it; every request sent to it so far is sent before the kill
        c.Kill(); // SIGKILL: no ledger flush, no hand-back
        long killedAtMs = clock.ElapsedMilliseconds;

        // The spare key's remaining budget is the dead node's lease: refused until the lease expires (no refusal reaches the
        // upstream: checked below, where node a's upstream requests equal its 200s).
        using (var http = a.Http(null))
        using (var blocked = await http.SendAsync(Chat(spare, 0)))
        {
            Assert.Equal(HttpStatusCode.PaymentRequired, blocked.StatusCode);
        }

        int spareServed = 0;
        long spareBackAfterMs = -1;
        using (var http = a.Http(null))
        {
            // Bounded: about 12 s of polling, a 402 (no upstream call) each 250 ms until the lease is reclaimed.
            for (int i = 0; i < 48 && spareServed == 0; i++)
            {
                using var response = await http.SendAsync(Chat(spare, 0));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    spareServed++;
                    Interlocked.Increment(ref ok[0]);
                    spareBackAfterMs = clock.ElapsedMilliseconds - killedAtMs;
                    break;
                }

                Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
                Interlocked.Increment(ref refused[0]);
                await Task.Delay(250);
            }
        }

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromMinutes(3));
        output.WriteLine($"a: {ok[0]} ok, {refused[0]} refused; b: {ok[1]} ok, {refused[1]} refused; c: {ok[2]} ok, {refused[2]} refused, "
            + $"{failedOnDead} failed at the kill, {contended} refused for lease contention; spare key usable again {spareBackAfterMs} ms after the kill");
        Assert.Empty(other);
        Assert.Equal(1, spareServed); // the dead node's lease budget is usable again…
        Assert.InRange(spareBackAfterMs, 0, 4_000 + 4_000); // …within the lease time after its last renewal (plus one renewal round and the polling)
        Assert.True(failedOnDead >= 1, "no request was in flight on the killed node");
        Assert.True(refused[0] + refused[1] >= Keys, $"the caps were not reached ({refused[0] + refused[1]} refused by the survivors)");

        // Threads and search on PostgreSQL too: a turn through b (one more request admitted by b) is found by keyword through a.
        using (var onB = b.Http(GatewayHost.MasterKey))
        using (var onA = a.Http(GatewayHost.MasterKey))
        {
            string thread = await onB.CreateThreadAsync();
            var (status, response, body) = await onB.PostTurnAsync(thread, ThreadTestClient.Turn("wombat burrow", model: "fake-b", maxTokens: 20));
            Assert.True(status == HttpStatusCode.OK, body);
            Interlocked.Increment(ref ok[1]);
            string userMessage = response.Headers.GetValues("x-qlaud-user-message-id").Single();
            List<string> found = [];
            for (int i = 0; i < 100 && found.Count == 0; i++) // bounded: 10 s
            {
                var (searched, hits) = await onA.GetJsonAsync("/v1/search?q=wombat");
                Assert.Equal(HttpStatusCode.OK, searched);
                found = [.. hits.GetProperty("data").EnumerateArray().Select(static h => h.GetProperty("message_id").GetString()!)];
                await Task.Delay(found.Count == 0 ? 100 : 0);
            }

            // The keyword match ranks first; the semantic half of the hybrid search may add the turn's reply below it.
            Assert.NotEmpty(found);
            Assert.Equal(userMessage, found[0]);
        }

        // After all of it, the survivors still have not loaded SQLite.
        foreach (var node in new[] { a, b })
        {
            var sqlite = node.MappedFiles().Where(static f => f.Contains("sqlite", StringComparison.OrdinalIgnoreCase)).ToList();
            Assert.True(sqlite.Count == 0, $"process {node.ProcessId} loaded SQLite: {string.Join(", ", sqlite)}");
        }

        // The survivors commit their ledgers at shutdown (SIGTERM, as a service manager stops them).
        foreach (var node in new[] { a, b })
        {
            int exit = await node.StopAsync(TimeSpan.FromSeconds(30));
            Assert.True(exit == 0, $"process {node.ProcessId} exited {exit}:\n{node.Tail}");
        }
        await using var connection = new NpgsqlConnection(_database);
        await connection.OpenAsync();

        // Upstream requests against ledger rows, per node.
        var ledgerIds = new Dictionary<string, HashSet<string>>();
        await using (var rows = new NpgsqlCommand("""SELECT "Model", "RequestId" FROM "LedgerEntries" WHERE "KeyId" IS NOT NULL AND "Model" IS NOT NULL""", connection))
        await using (var reader = await rows.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                string model = reader.GetString(0);
                (ledgerIds.TryGetValue(model, out var set) ? set : ledgerIds[model] = []).Add(reader.IsDBNull(1) ? "" : reader.GetString(1));
            }
        }

        int Ledger(int node) => ledgerIds.GetValueOrDefault($"fake-{Names[node]}")?.Count ?? 0;
        for (int node = 0; node < Dead; node++)
        {
            Assert.Equal(ok[node], UpstreamCount(fake, node)); // admitted = upstream requests; no 402 reached the upstream
            Assert.Equal(ok[node], Ledger(node)); // and each was charged once
        }

        // The dead node: every upstream request it made was answered 200 or was outstanding at the kill; the charges it lost are
        // those of requests outstanding at the kill and of answers settled in its last ledger batch (the 50 ms linger plus the
        // commit), never an older one.
        int deadUpstream = UpstreamCount(fake, Dead), deadLedger = Ledger(Dead);
        var deadCharged = ledgerIds.GetValueOrDefault($"fake-{Names[Dead]}") ?? [];
        var answeredUncharged = okIds.Where(x => !deadCharged.Contains(x.RequestId)).ToList();
        output.WriteLine($"dead node: {deadUpstream} upstream requests, {ok[Dead]} answered, {deadLedger} ledger rows, "
            + $"{answeredUncharged.Count} answered without a committed charge, {failedOnDead} outstanding at the kill");
        Assert.InRange(deadUpstream - ok[Dead], 0, failedOnDead);
        Assert.InRange(deadLedger, 0, deadUpstream);
        Assert.InRange(deadUpstream - deadLedger, 0, failedOnDead + answeredUncharged.Count);
        Assert.All(answeredUncharged, x => Assert.True(x.AnsweredAtMs >= killedAtMs - 2_000,
            $"an answer {killedAtMs - x.AnsweredAtMs} ms before the kill was never charged"));

        // No cap exceeded; every key's persisted spend and the wallet's balance equal their committed ledger rows.
        await using (var command = new NpgsqlCommand("""
            SELECT k."Id", k."SpendMicros", k."MaxSpendMicros", COALESCE((SELECT SUM(l."CostMicros") FROM "LedgerEntries" l WHERE l."KeyId" = k."Id"), 0)::bigint
            FROM "ApiKeys" k WHERE k."Id" = ANY(@ids)
            """, connection))
        {
            command.Parameters.AddWithValue("ids", keyIds.ToArray());
            await using var reader = await command.ExecuteReaderAsync();
            int keys = 0;
            while (await reader.ReadAsync())
            {
                keys++;
                long spend = reader.GetInt64(1), cap = reader.GetInt64(2), ledger = reader.GetInt64(3);
                Assert.True(spend <= cap, $"{reader.GetString(0)} spent {spend} of a cap of {cap}");
                Assert.Equal(ledger, spend);
            }

            Assert.Equal(Keys + 1, keys);
        }

        await using (var wallet = new NpgsqlCommand("""
            SELECT w."BalanceMicros", COALESCE((SELECT SUM(l."AmountMicros") FROM "LedgerEntries" l WHERE l."AccountId" = w."AccountId"), 0)::bigint
            FROM "Wallets" w WHERE w."AccountId" = 'default'
            """, connection))
        await using (var reader = await wallet.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            long balance = reader.GetInt64(0), ledger = reader.GetInt64(1);
            Assert.True(balance >= 0, $"wallet overdrawn: {balance}");
            Assert.Equal(ledger, balance);
        }
    }
}
