#pragma warning disable OPENAI001 // the SDK marks its batch client as evaluation-only
using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Batch;
using OpenAI.Files;
using Qlaud.AspNetCore.Tests.Infrastructure;

namespace Qlaud.AspNetCore.Tests.Batches;

/// <summary>Batch helpers over the official OpenAI SDK's file and batch clients.</summary>
internal static class BatchTestClient
{
    public static OpenAIClient OpenAI(this GatewayHost gateway, string key = GatewayHost.MasterKey)
        => new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = gateway.OpenAIBaseUri, NetworkTimeout = TimeSpan.FromSeconds(30), RetryPolicy = new ClientRetryPolicy(maxRetries: 0) });

    /// <summary>A chat line of an input file; <paramref name="marker"/> goes into the prompt so the fake's log tells requests apart.</summary>
    public static string ChatLine(string customId, string model = "fake-gpt", string? marker = null, int maxTokens = 50)
        => $$$"""{"custom_id":"{{{customId}}}","method":"POST","url":"/v1/chat/completions","body":{"model":"{{{model}}}","max_tokens":{{{maxTokens}}},"messages":[{"role":"user","content":"say hi {{{marker ?? customId}}}"}]}}""";

    public static string Jsonl(IEnumerable<string> lines) => string.Join("\n", lines) + "\n";

    /// <summary>Uploads <paramref name="jsonl"/> with the SDK's file client and creates a batch on it with the SDK's batch client.</summary>
    public static async Task<(string FileId, string BatchId, JsonElement Batch)> SubmitAsync(this GatewayHost gateway, string jsonl, string key = GatewayHost.MasterKey,
        string endpoint = "/v1/chat/completions", string window = "24h")
    {
        var client = gateway.OpenAI(key);
        OpenAIFile file = await client.GetOpenAIFileClient().UploadFileAsync(BinaryData.FromString(jsonl), "input.jsonl", FileUploadPurpose.Batch);
        var body = BinaryContent.Create(BinaryData.FromString(
            $$$"""{"input_file_id":"{{{file.Id}}}","endpoint":"{{{endpoint}}}","completion_window":"{{{window}}}","metadata":{"job":"test"}}"""));
        CreateBatchOperation operation = await client.GetBatchClient().CreateBatchAsync(body, waitUntilCompleted: false);
        var batch = Json(operation.GetRawResponse());
        return (file.Id, operation.BatchId, batch);
    }

    public static async Task<JsonElement> GetBatchAsync(this GatewayHost gateway, string batchId, string key = GatewayHost.MasterKey)
        => Json((await gateway.OpenAI(key).GetBatchClient().GetBatchAsync(batchId, new RequestOptions())).GetRawResponse());

    /// <summary>Polls until the batch's status is one of <paramref name="statuses"/> (bounded: 30 s).</summary>
    public static async Task<JsonElement> WaitForStatusAsync(this GatewayHost gateway, string batchId, params string[] statuses)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var batch = await gateway.GetBatchAsync(batchId);
            if (statuses.Contains(batch.GetProperty("status").GetString()))
            {
                return batch;
            }

            Assert.True(DateTime.UtcNow < deadline, $"batch {batchId} still {batch.GetProperty("status").GetString()}: {batch}");
            await Task.Delay(50);
        }
    }

    /// <summary>Polls until at least <paramref name="finished"/> requests finished (bounded: 30 s).</summary>
    public static async Task WaitForFinishedAsync(this GatewayHost gateway, string batchId, int finished)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var counts = (await gateway.GetBatchAsync(batchId)).GetProperty("request_counts");
            if (counts.GetProperty("completed").GetInt32() + counts.GetProperty("failed").GetInt32() >= finished)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"batch {batchId}: {counts}");
            await Task.Delay(20);
        }
    }

    /// <summary>Downloads a file with the SDK and parses its JSONL lines.</summary>
    public static async Task<List<JsonElement>> DownloadLinesAsync(this GatewayHost gateway, string fileId, string key = GatewayHost.MasterKey)
    {
        BinaryData content = await gateway.OpenAI(key).GetOpenAIFileClient().DownloadFileAsync(fileId);
        return [.. content.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(static l => JsonDocument.Parse(l).RootElement.Clone())];
    }

    public static async Task<JsonElement> UsageAsync(this GatewayHost gateway, string query)
    {
        using var http = gateway.Http();
        var (status, body) = await http.GetJsonAsync("/v1/usage?" + query);
        Assert.Equal(HttpStatusCode.OK, status);
        return body;
    }

    private static JsonElement Json(PipelineResponse response) => JsonDocument.Parse(response.Content.ToString()).RootElement.Clone();

    public static StringContent JsonBody(string json) => new(json, Encoding.UTF8, "application/json");
}

/// <summary>The ledger's usage rows, read after the ledger writer flushed.</summary>
internal static class BatchLedger
{
    public static async Task<List<Qlaud.Storage.LedgerEntryEntity>> UsageRowsAsync(this GatewayHost gateway)
    {
        var services = gateway.Services;
        await Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Qlaud.Metering.LedgerWriter>(services).FlushAsync(default);
        var factory = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<Qlaud.Storage.QlaudDbContext>>(services);
        await using var db = await factory.CreateDbContextAsync();
        return [.. db.LedgerEntries.Where(static e => e.Kind == Qlaud.Storage.LedgerEntryKind.Usage).OrderBy(static e => e.Id)];
    }
}
