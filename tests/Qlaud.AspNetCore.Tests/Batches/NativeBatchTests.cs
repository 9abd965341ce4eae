using System.Net;
using Anthropic.Models.Messages;
using Anthropic.Models.Messages.Batches;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Batches;
using Qlaud.Catalog;
using Qlaud.Metering;

namespace Qlaud.AspNetCore.Tests.Batches;

/// <summary>Native batches: a batch whose every request lands on one provider with a batch discount is submitted to that
/// provider's own batch API (the fake's OpenAI files + batches, Anthropic message batches), its results mapped back by
/// <c>custom_id</c> and every request's usage reconciled into the ledger at the discounted price.</summary>
public sealed class NativeBatchTests
{
    /// <summary>fake-gpt ($1/$2) and fake-claude ($3/$15) with a 50 % batch discount: $0.50/$1 and $1.50/$7.50 in a batch.</summary>
    private static readonly Dictionary<string, string?> Native = new()
    {
        ["Qlaud:Models:0:Routes:0:BatchDiscountPercent"] = "50",
        ["Qlaud:Models:1:Routes:0:BatchDiscountPercent"] = "50",
        ["Qlaud:Batches:PollIntervalSeconds"] = "0.05",
    };

    private static readonly QlaudCaller Master = new("default", "master", null, IsMaster: true);

    [Fact]
    public async Task OpenAIBatch_AllOnADiscountedRoute_IsSubmittedToTheProvidersBatchApiAndChargedTheBatchPrice()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: Native);
        var (_, batchId, _) = await gateway.SubmitAsync(BatchTestClient.Jsonl([BatchTestClient.ChatLine("a"), BatchTestClient.ChatLine("b"), BatchTestClient.ChatLine("c")]));
        var done = await gateway.WaitForStatusAsync(batchId, "completed", "failed");

        Assert.Equal("completed", done.GetProperty("status").GetString());
        var paths = gateway.Fake.Requests.Select(static r => $"{r.Method} {r.Path}").ToList();
        Assert.DoesNotContain("POST /v1/chat/completions", paths);
        Assert.Contains("POST /v1/files", paths);
        Assert.Contains("POST /v1/batches", paths);
        Assert.Contains(paths, static p => p.StartsWith("GET /v1/files/", StringComparison.Ordinal) && p.EndsWith("/content", StringComparison.Ordinal));
        Assert.Contains("upstream-gpt", gateway.Fake.Requests.Single(static r => r.Path == "/v1/files").BodyText); // the route's upstream model

        // Every result is stored in Qlaud: the input it uploaded and the output the provider wrote are deleted there.
        Assert.Equal(2, paths.Count(static p => p.StartsWith("DELETE /v1/files/", StringComparison.Ordinal)));
        Assert.Empty(gateway.Fake.BatchFileIds);

        var lines = await gateway.DownloadLinesAsync(done.GetProperty("output_file_id").GetString()!);
        Assert.Equal(["a", "b", "c"], lines.Select(static l => l.GetProperty("custom_id").GetString()));
        Assert.All(lines, static l => Assert.Equal("chat.completion", l.GetProperty("response").GetProperty("body").GetProperty("object").GetString()));

        var route = gateway.Services.GetRequiredService<ModelCatalog>().Models.Single(static m => m.Id == "fake-gpt").Routes[0];
        var rows = (await gateway.UsageRowsAsync()).Where(r => r.BatchId == batchId).ToList();
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r =>
        {
            var tokens = new TokenUsage(r.InputTokens, r.OutputTokens);
            Assert.True(r.InputTokens > 0 && !r.Estimated);
            Assert.Equal(route.BatchPrice.Cost(tokens), r.UpstreamCostMicros); // the batch price, not the interactive one
            Assert.True(r.UpstreamCostMicros < route.Price.Cost(tokens));
        });
        var batch = await gateway.Services.GetRequiredService<IQlaudBatches>().GetAsync(Master, batchId);
        Assert.Equal("fake", batch!.NativeProvider);
        Assert.Equal(0, batch.UnpricedRequests);
    }

    [Fact]
    public async Task AnthropicBatch_Native_ResultsAreReadFromTheMessageBatchResultsEndpointAndReconciled()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: Native);
        var client = gateway.AnthropicClient();
        var created = await client.Messages.Batches.Create(new BatchCreateParams
        {
            Requests = [.. new[] { "x", "y" }.Select(static id => new Request
            {
                CustomID = id,
                Params = new Params { Model = "fake-claude", MaxTokens = 64, Messages = [new UserMessageParam($"hi {id}")] },
            })],
        });
        MessageBatch ended;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((ended = await client.Messages.Batches.Retrieve(created.ID)).ProcessingStatus.Value() != ProcessingStatus.Ended)
        {
            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(50);
        }

        var results = new List<MessageBatchIndividualResponse>();
        await foreach (var result in client.Messages.Batches.ResultsStreaming(created.ID))
        {
            results.Add(result);
        }

        var paths = gateway.Fake.Requests.Select(static r => $"{r.Method} {r.Path}").ToList();
        Assert.DoesNotContain("POST /v1/messages", paths);
        Assert.Contains("POST /v1/messages/batches", paths);
        Assert.Contains(paths, static p => p.StartsWith("GET /v1/messages/batches/", StringComparison.Ordinal) && p.EndsWith("/results", StringComparison.Ordinal));
        Assert.DoesNotContain(paths, static p => p.Contains("/v1/files", StringComparison.Ordinal)); // Anthropic's results are not in a Files API
        Assert.Equal(2, ended.RequestCounts.Succeeded);
        Assert.Equal(["x", "y"], results.Select(static r => r.CustomID));
        Assert.All(results, static r => Assert.True(r.Result.TryPickSucceeded(out _)));

        var route = gateway.Services.GetRequiredService<ModelCatalog>().Models.Single(static m => m.Id == "fake-claude").Routes[0];
        var rows = (await gateway.UsageRowsAsync()).Where(r => r.BatchId == created.ID).ToList();
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r =>
        {
            Assert.True(r.CostMicros > 0 && !r.Estimated);
            Assert.Equal(route.BatchPrice.Cost(new TokenUsage(r.InputTokens, r.OutputTokens)), r.UpstreamCostMicros);
        });
    }

    [Fact]
    public async Task CappedKey_Native_ReservesEachRequestsWorstCaseAtSubmissionAndRequestsThatDoNotFitComeBackErrored()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: Native);
        // About 1,010 micro-USD reserved per request at the batch price (1000 output tokens at $1/MTok): two fit under $0.0025.
        var (_, secret) = await gateway.MintKeyAsync("""{"end_user_id":"capped","max_spend_usd":0.0025}""");

        var (_, batchId, _) = await gateway.SubmitAsync(
            BatchTestClient.Jsonl(Enumerable.Range(0, 4).Select(static i => BatchTestClient.ChatLine($"r{i}", maxTokens: 1000))), key: secret);
        var done = await gateway.WaitForStatusAsync(batchId, "completed");

        string uploaded = gateway.Fake.Requests.Single(static r => r.Path == "/v1/files").BodyText;
        Assert.Contains("\"r0\"", uploaded);
        Assert.Contains("\"r1\"", uploaded);
        Assert.DoesNotContain("\"r2\"", uploaded);
        Assert.DoesNotContain("\"r3\"", uploaded);
        Assert.Equal(2, done.GetProperty("request_counts").GetProperty("completed").GetInt32());
        var failed = await gateway.DownloadLinesAsync(done.GetProperty("error_file_id").GetString()!, secret);
        Assert.Equal(["r2", "r3"], failed.Select(static l => l.GetProperty("custom_id").GetString()));
        Assert.All(failed, static l => Assert.Equal(402, l.GetProperty("response").GetProperty("status_code").GetInt32()));
        Assert.Equal(2, (await gateway.UsageRowsAsync()).Count(r => r.BatchId == batchId));
    }

    [Fact]
    public async Task Native_ResultsWithoutUsage_AreChargedTheirEstimateAndFlaggedNeverZero()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: Native);
        gateway.Fake.OmitBatchUsage = true;

        var (_, batchId, _) = await gateway.SubmitAsync(BatchTestClient.Jsonl([BatchTestClient.ChatLine("a"), BatchTestClient.ChatLine("b")]));
        await gateway.WaitForStatusAsync(batchId, "completed");

        var rows = (await gateway.UsageRowsAsync()).Where(r => r.BatchId == batchId).ToList();
        Assert.Equal(2, rows.Count);
        Assert.All(rows, static r => Assert.True(r.Estimated && r.CostMicros > 0));
        var batch = await gateway.Services.GetRequiredService<IQlaudBatches>().GetAsync(Master, batchId);
        Assert.Equal(2, batch!.UnpricedRequests);
        using var http = gateway.Http();
        var (status, wire) = await http.GetJsonAsync($"/v1/batches/{batchId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, wire.GetProperty("qlaud_unpriced_requests").GetInt32());
    }

    [Fact]
    public async Task AnthropicNative_ResultsWithoutUsage_AreFlaggedOnTheMessageBatchObjectAndInTheOperatorsLog()
    {
        var logs = new LogCapture();
        await using var gateway = await GatewayHost.StartAsync(settings: Native, services: logs.AddTo);
        gateway.Fake.OmitBatchUsage = true;
        var client = gateway.AnthropicClient();
        var created = await client.Messages.Batches.Create(new BatchCreateParams
        {
            Requests = [.. new[] { "x", "y" }.Select(static id => new Request
            {
                CustomID = id,
                Params = new Params { Model = "fake-claude", MaxTokens = 64, Messages = [new UserMessageParam($"hi {id}")] },
            })],
        });
        MessageBatch ended;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((ended = await client.Messages.Batches.Retrieve(created.ID)).ProcessingStatus.Value() != ProcessingStatus.Ended)
        {
            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(50);
        }

        // The SDK (strict response validation) still reads the object; the wire carries Qlaud's flag beside Anthropic's fields.
        Assert.Equal(2, ended.RequestCounts.Succeeded);
        using var http = gateway.Http();
        http.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");
        var (status, wire) = await http.GetJsonAsync($"/v1/messages/batches/{created.ID}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("message_batch", wire.GetProperty("type").GetString());
        Assert.Equal(2, wire.GetProperty("qlaud_unpriced_requests").GetInt32());
        var (_, list) = await http.GetJsonAsync("/v1/messages/batches");
        Assert.Equal(2, Assert.Single(list.GetProperty("data").EnumerateArray()).GetProperty("qlaud_unpriced_requests").GetInt32());

        // Charged their worst-case estimate, never zero, and the operator is told which batch and how many.
        var rows = (await gateway.UsageRowsAsync()).Where(r => r.BatchId == created.ID).ToList();
        Assert.Equal(2, rows.Count);
        Assert.All(rows, static r => Assert.True(r.Estimated && r.CostMicros > 0));
        var logged = Assert.Single(logs.Entries, static e => e.Category == "Qlaud.Batches.NativeBatchRunner" && e.Level == Microsoft.Extensions.Logging.LogLevel.Error);
        Assert.Contains(created.ID, logged.Message, StringComparison.Ordinal);
        Assert.Contains("2 succeeded requests came back from fakeanthropic without usage", logged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Native_PricedResults_CarryNoUnpricedFlag()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: Native);
        var client = gateway.AnthropicClient();
        var created = await client.Messages.Batches.Create(new BatchCreateParams
        {
            Requests = [new Request { CustomID = "x", Params = new Params { Model = "fake-claude", MaxTokens = 64, Messages = [new UserMessageParam("hi")] } }],
        });
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await client.Messages.Batches.Retrieve(created.ID)).ProcessingStatus.Value() != ProcessingStatus.Ended)
        {
            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(50);
        }

        using var http = gateway.Http();
        var (_, wire) = await http.GetJsonAsync($"/v1/messages/batches/{created.ID}");
        Assert.False(wire.TryGetProperty("qlaud_unpriced_requests", out _));
    }

    [Fact]
    public async Task OpenAINative_ProviderRefusesTheBatch_ItsUploadedFileIsDeletedAndQlaudRunsTheRequestsItself()
    {
        await using var gateway = await GatewayHost.StartAsync(settings: Native);
        gateway.Fake.RefuseBatchCreate = true; // 400 invalid_request_error: the provider did not take it
        var (_, batchId, _) = await gateway.SubmitAsync(BatchTestClient.Jsonl([BatchTestClient.ChatLine("a"), BatchTestClient.ChatLine("b")]));
        var done = await gateway.WaitForStatusAsync(batchId, "completed", "failed");

        Assert.Equal("completed", done.GetProperty("status").GetString());
        var paths = gateway.Fake.Requests.Select(static r => $"{r.Method} {r.Path}").ToList();
        Assert.Contains("POST /v1/batches", paths);
        Assert.Single(paths, static p => p.StartsWith("DELETE /v1/files/", StringComparison.Ordinal));
        Assert.Empty(gateway.Fake.BatchFileIds); // nothing left in the provider's file storage
        Assert.Equal(2, paths.Count(static p => p == "POST /v1/chat/completions"));
        var lines = await gateway.DownloadLinesAsync(done.GetProperty("output_file_id").GetString()!);
        Assert.Equal(["a", "b"], lines.Select(static l => l.GetProperty("custom_id").GetString()).Order());
    }

    [Fact]
    public async Task PreferNativeOff_RunsTheRequestsThroughQlaudAtTheNormalPrice()
    {
        var settings = new Dictionary<string, string?>(Native) { ["Qlaud:Batches:PreferNative"] = "false" };
        await using var gateway = await GatewayHost.StartAsync(settings: settings);
        var (_, batchId, _) = await gateway.SubmitAsync(BatchTestClient.Jsonl([BatchTestClient.ChatLine("a")]));
        await gateway.WaitForStatusAsync(batchId, "completed");

        Assert.Equal(["/v1/chat/completions"], gateway.Fake.Requests.Select(static r => r.Path));
        var route = gateway.Services.GetRequiredService<ModelCatalog>().Models.Single(static m => m.Id == "fake-gpt").Routes[0];
        var row = Assert.Single(await gateway.UsageRowsAsync(), r => r.BatchId == batchId);
        Assert.Equal(route.Price.Cost(new TokenUsage(row.InputTokens, row.OutputTokens)), row.UpstreamCostMicros);
    }
}
