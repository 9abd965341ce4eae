using System.Text.Json;
using Npgsql;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;
using Qlaud.Tests.Postgres;

namespace Qlaud.AspNetCore.Tests.Batches;

/// <summary>Batch workers on several gateways (each its own <c>AddQlaud()</c>/<c>MapQlaud()</c> app on Kestrel) sharing one
/// PostgreSQL database, one files folder and one fake upstream: every request of a batch is sent once, recorded once and
/// charged once, whichever gateway claims it, and a dead gateway's claims are taken over once they expire.</summary>
public sealed class PostgresBatchScaleOutTests : IAsyncLifetime
{
    private PostgresServer _server = null!;
    private string _database = null!;
    private readonly string _files = Path.Combine(Path.GetTempPath(), $"qlaud-test-files-{Guid.NewGuid():N}");

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.GetAsync();
        _database = await _server.CreateDatabaseAsync();
    }

    public async Task DisposeAsync()
    {
        await _server.DropDatabaseAsync(_database);
        if (Directory.Exists(_files))
        {
            Directory.Delete(_files, recursive: true);
        }
    }

    private Dictionary<string, string?> Settings(bool worker = true) => new()
    {
        ["Qlaud:Storage:Provider"] = "postgres",
        ["Qlaud:Storage:ConnectionString"] = _database,
        ["Qlaud:Storage:FilesPath"] = _files,
        ["Qlaud:Search:Enabled"] = "false",
        ["Qlaud:Batches:WorkerEnabled"] = worker ? "true" : "false",
        ["Qlaud:Batches:PollIntervalSeconds"] = "0.1",
        ["Qlaud:Batches:MaxConcurrencyPerBatch"] = "2",
        ["Qlaud:Batches:ClaimSeconds"] = "3", // short enough for the tests, long enough that a gateway starved of CPU by a busy machine keeps its claims
    };

    [Fact]
    public async Task Batch_ThreeGatewaysWithWorkersOnOneDatabase_EveryRequestIsSentRecordedAndChargedExactlyOnce()
    {
        const int Requests = 60;
        await using var fake = await FakeProviderServer.StartAsync(new FakeProviderOptions { Latency = TimeSpan.FromMilliseconds(20) });
        var gateways = new List<GatewayHost>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                gateways.Add(await GatewayHost.StartAsync(fake, Settings(), disposeFake: false));
            }

            var ids = Enumerable.Range(0, Requests).Select(static i => $"req-{i:D3}").ToList();
            var (_, batchId, _) = await gateways[0].SubmitAsync(BatchTestClient.Jsonl(ids.Select(static id => BatchTestClient.ChatLine(id))));
            var done = await gateways[1].WaitForStatusAsync(batchId, "completed", "failed", "cancelled", "expired");

            Assert.Equal("completed", done.GetProperty("status").GetString());
            var counts = done.GetProperty("request_counts");
            Assert.Equal(Requests, counts.GetProperty("total").GetInt32());
            Assert.Equal(Requests, counts.GetProperty("completed").GetInt32());
            Assert.Equal(0, counts.GetProperty("failed").GetInt32());

            // The upstream saw every custom_id's prompt exactly once.
            var prompts = fake.Requests.Where(static r => r.Path == "/v1/chat/completions").Select(static r => r.BodyText).ToList();
            Assert.Equal(Requests, prompts.Count);
            Assert.All(ids, id => Assert.Single(prompts, p => p.Contains($"say hi {id}\"", StringComparison.Ordinal)));

            // The output file (written by the one gateway that finalized, into the shared folder) is readable through another
            // gateway and holds every result once.
            var lines = await gateways[2].DownloadLinesAsync(done.GetProperty("output_file_id").GetString()!);
            Assert.Equal(ids, lines.Select(static l => l.GetProperty("custom_id").GetString()).Order(StringComparer.Ordinal));
            Assert.Equal(JsonValueKind.Null, done.GetProperty("error_file_id").ValueKind);

            // One usage row per request, with the request id its output line reports.
            foreach (var gateway in gateways)
            {
                await gateway.StopAsync();
            }

            var rows = await LedgerAsync(batchId);
            Assert.Equal(Requests, rows.Count);
            Assert.All(rows, static r => Assert.True(r.CostMicros > 0));
            Assert.Equal(lines.Select(static l => l.GetProperty("response").GetProperty("request_id").GetString()).Order(StringComparer.Ordinal),
                rows.Select(static r => r.RequestId).Order(StringComparer.Ordinal));

            // The work was shared: more than one gateway claimed requests of the batch.
            Assert.True(await ScalarAsync("""SELECT count(DISTINCT claimed_by) FROM batch_requests WHERE "BatchId" = @batch""", batchId) >= 2);
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
    public async Task Batch_RequestsClaimedByAGatewayThatDied_AreSentByAnotherOnceTheClaimExpiresAndOnlyOnce()
    {
        const int Requests = 20, Abandoned = 8;
        await using var fake = await FakeProviderServer.StartAsync();
        await using var front = await GatewayHost.StartAsync(fake, Settings(worker: false), disposeFake: false);
        var ids = Enumerable.Range(0, Requests).Select(static i => $"req-{i:D3}").ToList();
        var (_, batchId, _) = await front.SubmitAsync(BatchTestClient.Jsonl(ids.Select(static id => BatchTestClient.ChatLine(id))));

        // A gateway claimed the first requests and died before recording a result (kill -9): its claims stay in the table
        // until they expire, 1.5 s from now.
        long expiresMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1_500;
        Assert.Equal(Abandoned, await ScalarAsync($"""
            UPDATE batch_requests SET claimed_by = 'node_dead', claimed_until_ms = {expiresMs} WHERE "BatchId" = @batch AND "Index" < {Abandoned}
            """, batchId, nonQuery: true));

        await using var survivor = await GatewayHost.StartAsync(fake, Settings(), disposeFake: false);
        var done = await survivor.WaitForStatusAsync(batchId, "completed", "failed", "cancelled", "expired");

        Assert.Equal("completed", done.GetProperty("status").GetString());
        Assert.Equal(Requests, done.GetProperty("request_counts").GetProperty("completed").GetInt32());
        var requests = fake.Requests.Where(static r => r.Path == "/v1/chat/completions").ToList();
        Assert.Equal(Requests, requests.Count);
        for (int i = 0; i < Requests; i++)
        {
            string id = ids[i];
            var sent = Assert.Single(requests, r => r.BodyText.Contains($"say hi {id}\"", StringComparison.Ordinal));
            if (i < Abandoned)
            {
                // Not before the dead gateway's claim ran out.
                Assert.True(sent.ReceivedAt.ToUnixTimeMilliseconds() >= expiresMs, $"{id} sent {expiresMs - sent.ReceivedAt.ToUnixTimeMilliseconds()} ms before the claim expired");
            }
        }

        var lines = await front.DownloadLinesAsync(done.GetProperty("output_file_id").GetString()!);
        Assert.Equal(ids, lines.Select(static l => l.GetProperty("custom_id").GetString()).Order(StringComparer.Ordinal));
        await survivor.StopAsync();
        Assert.Equal(Requests, (await LedgerAsync(batchId)).Select(static r => r.RequestId).Distinct().Count());
        Assert.Equal(Requests, (await LedgerAsync(batchId)).Count);
    }

    [Fact]
    public async Task Batch_GatewayStoppedMidBatch_ReleasesItsClaimsAndAnotherFinishesAtOnceSendingNothingTwice()
    {
        const int Requests = 20;
        await using var fake = await FakeProviderServer.StartAsync(new FakeProviderOptions { Latency = TimeSpan.FromMilliseconds(100) });
        var settings = Settings();
        settings["Qlaud:Batches:ClaimSeconds"] = "60"; // unreleased claims would outlast the test's 30 s wait
        await using var first = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        var ids = Enumerable.Range(0, Requests).Select(static i => $"req-{i:D3}").ToList();
        var (_, batchId, _) = await first.SubmitAsync(BatchTestClient.Jsonl(ids.Select(static id => BatchTestClient.ChatLine(id))));
        await first.WaitForFinishedAsync(batchId, 4);
        await first.StopAsync(); // requests in flight finish and are recorded; unsent claims are released
        int sentByFirst = fake.Requests.Count;

        await using var second = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        var done = await second.WaitForStatusAsync(batchId, "completed", "failed", "cancelled", "expired");

        Assert.Equal("completed", done.GetProperty("status").GetString());
        Assert.True(sentByFirst is >= 4 and < Requests, $"the first gateway sent {sentByFirst}");
        var prompts = fake.Requests.Select(static r => r.BodyText).ToList();
        Assert.Equal(Requests, prompts.Count);
        Assert.All(ids, id => Assert.Single(prompts, p => p.Contains($"say hi {id}\"", StringComparison.Ordinal)));
        await second.StopAsync();
        Assert.Equal(Requests, (await LedgerAsync(batchId)).Count);
        Assert.Equal(0, await ScalarAsync("""SELECT count(*) FROM batch_requests WHERE "BatchId" = @batch AND "State" = 'Pending'""", batchId));
    }

    /// <summary>The ledger's rows for the batch (read after the gateways stopped, so every writer committed).</summary>
    private async Task<List<(string? RequestId, long CostMicros)>> LedgerAsync(string batchId)
    {
        await using var connection = new NpgsqlConnection(_database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""SELECT "RequestId", "CostMicros" FROM "LedgerEntries" WHERE "BatchId" = @batch""", connection);
        command.Parameters.AddWithValue("batch", batchId);
        var rows = new List<(string?, long)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetInt64(1)));
        }

        return rows;
    }

    private async Task<long> ScalarAsync(string sql, string batchId, bool nonQuery = false)
    {
        await using var connection = new NpgsqlConnection(_database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("batch", batchId);
        return nonQuery ? await command.ExecuteNonQueryAsync() : Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
