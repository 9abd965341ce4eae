using System.Text.Json;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Batches;

/// <summary>What ends or limits a batch: its completion window, cancel, and its key's spend cap.</summary>
public sealed class BatchLimitsTests
{
    [Fact]
    public async Task Expiry_ShortWindow_UnsentRequestsExpireAndTheBatchEndsExpiredWithItsResults()
    {
        await using var fake = await FakeProviderServer.StartAsync(new FakeProviderOptions { Latency = TimeSpan.FromMilliseconds(300) });
        await using var gateway = await GatewayHost.StartAsync(fake, new Dictionary<string, string?> { ["Qlaud:Batches:MaxConcurrencyPerBatch"] = "1" });

        var (_, batchId, _) = await gateway.SubmitAsync(BatchTestClient.Jsonl(Enumerable.Range(0, 20).Select(static i => BatchTestClient.ChatLine($"r{i}"))), window: "1s");
        var batch = await gateway.WaitForStatusAsync(batchId, "expired", "completed");

        Assert.Equal("expired", batch.GetProperty("status").GetString());
        Assert.True(batch.GetProperty("expired_at").GetInt64() > 0);
        int completed = batch.GetProperty("request_counts").GetProperty("completed").GetInt32();
        Assert.InRange(completed, 1, 19);
        Assert.Equal(completed, fake.Requests.Count);
        var succeeded = await gateway.DownloadLinesAsync(batch.GetProperty("output_file_id").GetString()!);
        var expired = await gateway.DownloadLinesAsync(batch.GetProperty("error_file_id").GetString()!);
        Assert.Equal(completed, succeeded.Count);
        Assert.Equal(20 - completed, expired.Count);
        Assert.All(expired, static l =>
        {
            Assert.Equal(JsonValueKind.Null, l.GetProperty("response").ValueKind);
            Assert.Equal("batch_expired", l.GetProperty("error").GetProperty("code").GetString());
        });
    }

    [Fact]
    public async Task Cancel_OpenAIBatch_EndsCancelledWithCanceledLinesInTheErrorFile()
    {
        await using var fake = await FakeProviderServer.StartAsync(new FakeProviderOptions { Latency = TimeSpan.FromMilliseconds(200) });
        await using var gateway = await GatewayHost.StartAsync(fake, new Dictionary<string, string?> { ["Qlaud:Batches:MaxConcurrencyPerBatch"] = "1" });
        var (_, batchId, _) = await gateway.SubmitAsync(BatchTestClient.Jsonl(Enumerable.Range(0, 20).Select(static i => BatchTestClient.ChatLine($"r{i}"))));
        await fake.WaitForRequestAsync();

        using var http = gateway.Http();
        var (_, cancelling) = await http.PostJsonAsync($"/v1/batches/{batchId}/cancel", "{}");
        var batch = await gateway.WaitForStatusAsync(batchId, "cancelled");

        Assert.Contains(cancelling.GetProperty("status").GetString(), (string[])["cancelling", "cancelled"]);
        Assert.True(cancelling.GetProperty("cancelling_at").GetInt64() > 0);
        Assert.True(batch.GetProperty("cancelled_at").GetInt64() > 0);
        int completed = batch.GetProperty("request_counts").GetProperty("completed").GetInt32();
        Assert.Equal(completed, fake.Requests.Count);
        var canceled = await gateway.DownloadLinesAsync(batch.GetProperty("error_file_id").GetString()!);
        Assert.Equal(20 - completed, canceled.Count);
        Assert.All(canceled, static l => Assert.Equal("batch_cancelled", l.GetProperty("error").GetProperty("code").GetString()));
    }

    [Fact]
    public async Task Cap_ReachedMidBatch_RemainingRequestsGet402AndTheBatchStillCompletes()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Batches:MaxConcurrencyPerBatch"] = "1" });
        // About 2,050 micro-USD reserved per request (1000 output tokens at $2/MTok), about 50 charged: several fit, then none.
        var (keyId, secret) = await gateway.MintKeyAsync("""{"end_user_id":"capped","max_spend_usd":0.0025}""");

        var (_, batchId, _) = await gateway.SubmitAsync(
            BatchTestClient.Jsonl(Enumerable.Range(0, 20).Select(static i => BatchTestClient.ChatLine($"r{i}", maxTokens: 1000))), key: secret);
        var batch = await gateway.WaitForStatusAsync(batchId, "completed");

        var counts = batch.GetProperty("request_counts");
        int completed = counts.GetProperty("completed").GetInt32();
        Assert.InRange(completed, 1, 19);
        Assert.Equal(20 - completed, counts.GetProperty("failed").GetInt32());
        Assert.Equal(completed, gateway.Fake.Requests.Count); // refused requests never reached the provider
        var failed = await gateway.DownloadLinesAsync(batch.GetProperty("error_file_id").GetString()!, secret);
        Assert.All(failed, static l =>
        {
            Assert.Equal(402, l.GetProperty("response").GetProperty("status_code").GetInt32());
            Assert.Equal("spend_limit_exceeded", l.GetProperty("response").GetProperty("body").GetProperty("error").GetProperty("code").GetString());
        });

        var rows = (await gateway.UsageRowsAsync()).Where(r => r.BatchId == batchId).ToList();
        Assert.Equal(completed, rows.Count);
        Assert.All(rows, r => Assert.Equal(keyId, r.KeyId));
        Assert.True(rows.Sum(static r => r.CostMicros) <= 2_500);
    }

    [Fact]
    public async Task RateLimited_ProviderAnswers429_TheBatchPausesWithGrowingBackoffAndSendsTheRequestAgain()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Batches:MaxConcurrencyPerBatch"] = "1",
            ["Qlaud:Batches:RateLimitBackoffSeconds"] = "0.1",
        });
        gateway.Fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(1)), FakeReply.RateLimited(TimeSpan.FromSeconds(1)), FakeReply.RateLimited(TimeSpan.FromSeconds(1)));

        var (_, batchId, _) = await gateway.SubmitAsync(BatchTestClient.Jsonl([BatchTestClient.ChatLine("a"), BatchTestClient.ChatLine("b")]));
        var batch = await gateway.WaitForStatusAsync(batchId, "completed");

        Assert.Equal(2, batch.GetProperty("request_counts").GetProperty("completed").GetInt32());
        var sent = gateway.Fake.Requests;
        Assert.Equal(5, sent.Count); // three 429s, then each request once
        // Pauses of 0.1, 0.2 and 0.4 s after the three 429s in a row.
        Assert.True(sent[3].ReceivedAt - sent[0].ReceivedAt >= TimeSpan.FromMilliseconds(650), $"{(sent[3].ReceivedAt - sent[0].ReceivedAt).TotalMilliseconds} ms");
        Assert.Equal(2, (await gateway.UsageRowsAsync()).Count(r => r.BatchId == batchId)); // the 429s charged nothing
    }

    [Fact]
    public async Task RateLimited_BeyondMaxRateLimitRetries_The429IsTheRequestsResult()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Qlaud:Batches:MaxConcurrencyPerBatch"] = "1",
            ["Qlaud:Batches:RateLimitBackoffSeconds"] = "0.01",
            ["Qlaud:Batches:MaxRateLimitRetries"] = "1",
        });
        gateway.Fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(1)), FakeReply.RateLimited(TimeSpan.FromSeconds(1)));

        var (_, batchId, _) = await gateway.SubmitAsync(BatchTestClient.Jsonl([BatchTestClient.ChatLine("a")]));
        var batch = await gateway.WaitForStatusAsync(batchId, "completed");

        var line = Assert.Single(await gateway.DownloadLinesAsync(batch.GetProperty("error_file_id").GetString()!));
        Assert.Equal(429, line.GetProperty("response").GetProperty("status_code").GetInt32());
        Assert.Equal(2, gateway.Fake.Requests.Count);
    }
}
