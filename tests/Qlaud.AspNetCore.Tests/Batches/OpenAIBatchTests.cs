using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Batches;

/// <summary>The OpenAI Files and Batch APIs driven by the official OpenAI .NET SDK against the real gateway: every request of a
/// batch runs through routing and metering, results come back in the output file by <c>custom_id</c>.</summary>
public sealed class OpenAIBatchTests
{
    [Fact]
    public async Task Batch_SubmitPollDownload_EveryRequestRunsMeteredAndTheOutputFileMapsCustomIds()
    {
        await using var gateway = await GatewayHost.StartAsync();
        string jsonl = BatchTestClient.Jsonl([
            BatchTestClient.ChatLine("req-1"),
            BatchTestClient.ChatLine("req-2"),
            BatchTestClient.ChatLine("req-3", model: "fake-claude"), // an OpenAI body on an Anthropic route: translated
        ]);

        var (fileId, batchId, created) = await gateway.SubmitAsync(jsonl);
        var done = await gateway.WaitForStatusAsync(batchId, "completed", "failed");

        Assert.StartsWith("batch_", batchId);
        Assert.Equal("batch", created.GetProperty("object").GetString());
        Assert.Equal(fileId, created.GetProperty("input_file_id").GetString());
        Assert.Equal("test", created.GetProperty("metadata").GetProperty("job").GetString());
        Assert.Equal("completed", done.GetProperty("status").GetString());
        Assert.Equal(3, done.GetProperty("request_counts").GetProperty("total").GetInt32());
        Assert.Equal(3, done.GetProperty("request_counts").GetProperty("completed").GetInt32());
        Assert.Equal(0, done.GetProperty("request_counts").GetProperty("failed").GetInt32());
        foreach (string field in (string[])["created_at", "in_progress_at", "finalizing_at", "completed_at", "expires_at"])
        {
            Assert.True(done.GetProperty(field).GetInt64() > 0, field);
        }

        Assert.Equal(JsonValueKind.Null, done.GetProperty("error_file_id").ValueKind);
        var lines = await gateway.DownloadLinesAsync(done.GetProperty("output_file_id").GetString()!);
        Assert.Equal(["req-1", "req-2", "req-3"], lines.Select(static l => l.GetProperty("custom_id").GetString()));
        Assert.All(lines, static l =>
        {
            Assert.Equal(200, l.GetProperty("response").GetProperty("status_code").GetInt32());
            Assert.Equal("chat.completion", l.GetProperty("response").GetProperty("body").GetProperty("object").GetString());
            Assert.Equal(JsonValueKind.Null, l.GetProperty("error").ValueKind);
        });

        // The fake saw each request once, on its own dialect's endpoint.
        var requests = gateway.Fake.Requests;
        Assert.Equal(2, requests.Count(static r => r.Path == "/v1/chat/completions"));
        Assert.Equal(1, requests.Count(static r => r.Path == "/v1/messages"));

        // Each request is one usage row naming the batch, with the request id the output line reports.
        var rows = (await gateway.UsageRowsAsync()).Where(r => r.BatchId == batchId).ToList();
        Assert.Equal(3, rows.Count);
        Assert.All(rows, static r => Assert.True(r.CostMicros > 0));
        Assert.Equal(lines.Select(static l => l.GetProperty("response").GetProperty("request_id").GetString()).Order(), rows.Select(static r => r.RequestId).Order());

        var batchUsage = await gateway.UsageAsync("batch=true");
        var oneBatch = await gateway.UsageAsync("batch_id=" + batchId);
        var interactive = await gateway.UsageAsync("batch=false");
        Assert.Equal(3, batchUsage.GetProperty("totals").GetProperty("requests").GetInt32());
        Assert.Equal(rows.Sum(static r => r.CostMicros), oneBatch.GetProperty("totals").GetProperty("cost_micros").GetInt64());
        Assert.Equal(0, interactive.GetProperty("totals").GetProperty("requests").GetInt32());
    }

    [Fact]
    public async Task Create_InvalidLines_FailsValidationWithTheirLineNumbersAndSendsNothing()
    {
        await using var gateway = await GatewayHost.StartAsync();
        string jsonl = BatchTestClient.Jsonl([
            BatchTestClient.ChatLine("ok-1"),
            "{not json",
            BatchTestClient.ChatLine("unknown", model: "no-such-model"),
            BatchTestClient.ChatLine("ok-1"),
        ]);

        var (_, batchId, created) = await gateway.SubmitAsync(jsonl);
        await Task.Delay(200);
        var batch = await gateway.GetBatchAsync(batchId);

        Assert.Equal("failed", created.GetProperty("status").GetString());
        Assert.Equal("failed", batch.GetProperty("status").GetString());
        Assert.True(batch.GetProperty("failed_at").GetInt64() > 0);
        var errors = batch.GetProperty("errors").GetProperty("data").EnumerateArray().ToList();
        Assert.Equal([2, 3, 4], errors.Select(static e => e.GetProperty("line").GetInt32()));
        Assert.Equal(["invalid_json_line", "model_not_found", "duplicate_custom_id"], errors.Select(static e => e.GetProperty("code").GetString()));
        Assert.Empty(gateway.Fake.Requests);
    }

    [Fact]
    public async Task Restart_MidBatch_ResumesWithoutSendingAnyRequestTwiceAndChargesEachOnce()
    {
        using var database = new TempDatabase();
        await using var fake = await FakeProviderServer.StartAsync(new FakeProviderOptions { Latency = TimeSpan.FromMilliseconds(150) });
        var settings = new Dictionary<string, string?>
        {
            ["Qlaud:Storage:ConnectionString"] = database.ConnectionString,
            ["Qlaud:Storage:FilesPath"] = database.Files,
            ["Qlaud:Batches:MaxConcurrencyPerBatch"] = "2",
        };
        const int Count = 12;
        string batchId;
        await using (var first = await GatewayHost.StartAsync(fake, settings, disposeFake: false))
        {
            (_, batchId, _) = await first.SubmitAsync(BatchTestClient.Jsonl(Enumerable.Range(0, Count).Select(static i => BatchTestClient.ChatLine($"r{i}", marker: $"marker-{i:00}"))));
            await first.WaitForFinishedAsync(batchId, 3);
        } // a graceful stop: requests in flight finish and are recorded

        int sentBeforeRestart = fake.Requests.Count;
        Assert.True(sentBeforeRestart < Count, $"the batch finished before the restart ({sentBeforeRestart} sent)");
        await using var second = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        var done = await second.WaitForStatusAsync(batchId, "completed");

        // Every request reached the provider exactly once across both processes.
        var markers = fake.Requests.Select(static r => System.Text.RegularExpressions.Regex.Match(r.BodyText, "marker-\\d\\d").Value).ToList();
        Assert.Equal(Count, markers.Count);
        Assert.Equal(Count, markers.Distinct().Count());
        Assert.Equal(Count, done.GetProperty("request_counts").GetProperty("completed").GetInt32());
        var lines = await second.DownloadLinesAsync(done.GetProperty("output_file_id").GetString()!);
        Assert.Equal(Enumerable.Range(0, Count).Select(static i => $"r{i}"), lines.Select(static l => l.GetProperty("custom_id").GetString()));

        // And each was charged once: one usage row per request, and the wallet equals the ledger.
        var rows = (await second.UsageRowsAsync()).Where(r => r.BatchId == batchId).ToList();
        Assert.Equal(Count, rows.Count);
        Assert.Equal(Count, rows.Select(static r => r.RequestId).Distinct().Count());
        await second.StopAsync();
        (await LedgerAudit.ReadAsync(database.ConnectionString)).AssertConsistent();
    }

    [Fact]
    public async Task Files_UploadListGetContentDelete_AndTooLargeIs413()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?> { ["Qlaud:Batches:MaxFileBytes"] = "2048" });
        var files = gateway.OpenAI().GetOpenAIFileClient();
        string jsonl = BatchTestClient.Jsonl([BatchTestClient.ChatLine("a")]);
        var uploaded = await files.UploadFileAsync(BinaryData.FromString(jsonl), "in.jsonl", OpenAI.Files.FileUploadPurpose.Batch);

        var fetched = (await files.GetFileAsync(uploaded.Value.Id)).Value;
        var listed = (await files.GetFilesAsync()).Value;
        string content = (await files.DownloadFileAsync(uploaded.Value.Id)).Value.ToString();

        Assert.StartsWith("file-", uploaded.Value.Id);
        Assert.Equal("in.jsonl", fetched.Filename);
        Assert.Equal(jsonl.Length, fetched.SizeInBytes);
        Assert.Contains(listed, f => f.Id == uploaded.Value.Id);
        Assert.Equal(jsonl, content);

        // Another end user's key does not see it.
        var (_, other) = await gateway.MintKeyAsync("""{"end_user_id":"mallory"}""");
        using var otherHttp = gateway.Http(other);
        Assert.Equal(HttpStatusCode.NotFound, (await otherHttp.GetAsync($"/v1/files/{uploaded.Value.Id}")).StatusCode);

        // Over Qlaud:Batches:MaxFileBytes: 413 in the OpenAI envelope, nothing kept.
        using var http = gateway.Http();
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(new byte[4096]) { Headers = { ContentType = new MediaTypeHeaderValue("application/jsonl") } }, "file", "big.jsonl" },
        };
        using var tooLarge = await http.PostAsync("/v1/files", form);
        using var error = JsonDocument.Parse(await tooLarge.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.Contains("Qlaud:Batches:MaxFileBytes", error.RootElement.GetProperty("error").GetProperty("message").GetString());
        Assert.Single((await files.GetFilesAsync()).Value);

        var deleted = await files.DeleteFileAsync(uploaded.Value.Id);
        Assert.True(deleted.Value.Deleted);
        Assert.Empty((await files.GetFilesAsync()).Value);
    }
}
