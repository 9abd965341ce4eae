using System.Net;
using Anthropic.Models.Messages;
using Anthropic.Models.Messages.Batches;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Batches;
using Qlaud.Catalog;
using Qlaud.FakeProvider;
using Qlaud.Metering;

namespace Qlaud.AspNetCore.Tests.Batches;

/// <summary>Native batches across a restart of the gateway (in-process host stop and start on the same SQLite file): a batch
/// the provider accepted while the gateway stopped before recording the provider's batch id is found and followed, never
/// submitted twice; and a capped key's native batch keeps its requests' worst case held while the provider runs it.</summary>
public sealed class NativeBatchRestartTests
{
    private static readonly QlaudCaller Master = new("default", "master", null, IsMaster: true);

    private static Dictionary<string, string?> Settings(TempDatabase database) => new()
    {
        ["Qlaud:Storage:ConnectionString"] = database.ConnectionString,
        ["Qlaud:Storage:FilesPath"] = database.Files,
        ["Qlaud:Models:0:Routes:0:BatchDiscountPercent"] = "50",
        ["Qlaud:Models:1:Routes:0:BatchDiscountPercent"] = "50",
        ["Qlaud:Batches:PollIntervalSeconds"] = "0.05",
    };

    [Fact]
    public async Task OpenAINative_AcceptedThenTheGatewayStopsBeforeRecordingIt_IsFoundByItsTokenAfterTheRestartAndNotSubmittedAgain()
    {
        using var database = new TempDatabase();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = Settings(database);
        var accepted = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.OnBatchAccepted = async id =>
        {
            accepted.TrySetResult(id);
            await release.Task;
        };
        string batchId;
        await using (var first = await GatewayHost.StartAsync(fake, settings, disposeFake: false))
        {
            (_, batchId, _) = await first.SubmitAsync(BatchTestClient.Jsonl([BatchTestClient.ChatLine("a"), BatchTestClient.ChatLine("b"), BatchTestClient.ChatLine("c")]));
            await accepted.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await first.StopAsync(); // the provider has the batch; its answer (the provider's batch id) never reaches the database
        }

        fake.OnBatchAccepted = null;
        release.SetResult();
        var create = Assert.Single(fake.Requests, static r => r is { Method: "POST", Path: "/v1/batches" });
        Assert.Contains("\"qlaud_batch_id\":\"" + batchId + "\"", create.BodyText, StringComparison.Ordinal);

        // Other clients' batches created since put this one on the provider list's second page.
        await CreateOpenAIAtFakeAsync(fake, 120);

        await using var second = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        var done = await second.WaitForStatusAsync(batchId, "completed", "failed");

        Assert.Equal("completed", done.GetProperty("status").GetString());
        Assert.Equal(121, fake.Requests.Count(static r => r is { Method: "POST", Path: "/v1/batches" })); // this one once, and the others'
        Assert.Contains(fake.Requests, static r => r.Method == "GET" && r.Path.Contains("/v1/batches?limit=100&after=", StringComparison.Ordinal));
        Assert.Equal(2, fake.Requests.Count(static r => r is { Method: "POST", Path: "/v1/files" })); // this one's input, and the others' one
        Assert.Contains(fake.Requests, static r => r.Method == "GET" && r.Path.StartsWith("/v1/batches?", StringComparison.Ordinal)); // looked for
        Assert.DoesNotContain(fake.Requests, static r => r.Path == "/v1/chat/completions");
        var lines = await second.DownloadLinesAsync(done.GetProperty("output_file_id").GetString()!);
        Assert.Equal(["a", "b", "c"], lines.Select(static l => l.GetProperty("custom_id").GetString()));

        // Each request charged once, from the provider's results, at the batch price.
        var route = second.Services.GetRequiredService<ModelCatalog>().Models.Single(static m => m.Id == "fake-gpt").Routes[0];
        var rows = (await second.UsageRowsAsync()).Where(r => r.BatchId == batchId).ToList();
        Assert.Equal(3, rows.Count);
        Assert.Equal(3, rows.Select(static r => r.RequestId).Distinct().Count());
        Assert.All(rows, r => Assert.Equal(route.BatchPrice.Cost(new TokenUsage(r.InputTokens, r.OutputTokens)), r.UpstreamCostMicros));
        Assert.Equal("fake", (await second.Services.GetRequiredService<IQlaudBatches>().GetAsync(Master, batchId))!.NativeProvider);
        await second.StopAsync();
        (await LedgerAudit.ReadAsync(database.ConnectionString)).AssertConsistent();
    }

    [Fact]
    public async Task AnthropicNative_AcceptedThenTheGatewayStopsBeforeRecordingIt_TheOneMatchingMessageBatchIsAdoptedNotSubmittedAgain()
    {
        using var database = new TempDatabase();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = Settings(database);

        // An earlier batch of another size at the same provider is no candidate.
        await CreateAtFakeAsync(fake, 3);
        var accepted = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.OnBatchAccepted = async id =>
        {
            accepted.TrySetResult(id);
            await release.Task;
        };
        string batchId;
        await using (var first = await GatewayHost.StartAsync(fake, settings, disposeFake: false))
        {
            batchId = (await first.AnthropicClient().Messages.Batches.Create(TwoRequests())).ID;
            await accepted.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await first.StopAsync();
        }

        fake.OnBatchAccepted = null;
        release.SetResult();
        string nativeId = await accepted.Task;
        for (int i = 0; i < 110; i++)
        {
            await CreateAtFakeAsync(fake, 3); // newer batches of another size: this one is on the list's second page
        }

        await using var second = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        var ended = await WaitEndedAsync(second, batchId);

        Assert.Equal(2, ended.RequestCounts.Succeeded);
        Assert.Equal(112, fake.Requests.Count(static r => r is { Method: "POST", Path: "/v1/messages/batches" })); // the others', and this one's once
        Assert.Contains(fake.Requests, static r => r.Method == "GET" && r.Path.StartsWith("/v1/messages/batches?limit=100&after_id=", StringComparison.Ordinal));
        Assert.Contains(fake.Requests, r => r.Method == "GET" && r.Path == $"/v1/messages/batches/{nativeId}/results");
        Assert.DoesNotContain(fake.Requests, static r => r.Path == "/v1/messages");
        var rows = (await second.UsageRowsAsync()).Where(r => r.BatchId == batchId).ToList();
        Assert.Equal(2, rows.Count);
        Assert.All(rows, static r => Assert.True(r.CostMicros > 0 && !r.Estimated));
        await second.StopAsync();
        (await LedgerAudit.ReadAsync(database.ConnectionString)).AssertConsistent();
    }

    [Fact]
    public async Task AnthropicNative_TwoMatchingMessageBatchesAfterTheRestart_NothingIsSubmittedAgainAndTheRequestsErrorWithTheReasonLogged()
    {
        using var database = new TempDatabase();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = Settings(database);
        var accepted = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.OnBatchAccepted = async id =>
        {
            accepted.TrySetResult(id);
            await release.Task;
        };
        string batchId;
        await using (var first = await GatewayHost.StartAsync(fake, settings, disposeFake: false))
        {
            batchId = (await first.AnthropicClient().Messages.Batches.Create(TwoRequests())).ID;
            await accepted.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await first.StopAsync();
        }

        fake.OnBatchAccepted = null;
        release.SetResult();
        string ours = await accepted.Task;
        string other = await CreateAtFakeAsync(fake, 2); // another client of the same provider key, same size, same minute

        var logs = new LogCapture();
        await using var second = await GatewayHost.StartAsync(fake, settings, disposeFake: false, services: logs.AddTo);
        var ended = await WaitEndedAsync(second, batchId);

        Assert.Equal(2, ended.RequestCounts.Errored);
        Assert.Equal(2, fake.Requests.Count(static r => r is { Method: "POST", Path: "/v1/messages/batches" })); // not a third
        using var http = second.Http();
        var results = await (await http.GetAsync($"/v1/messages/batches/{batchId}/results")).Content.ReadAsStringAsync();
        Assert.Equal(2, results.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("cannot tell whether the provider took it", results, StringComparison.Ordinal);
        Assert.DoesNotContain(await second.UsageRowsAsync(), r => r.BatchId == batchId);
        var logged = Assert.Single(logs.Entries, static e => e.Level == LogLevel.Error && e.Category == "Qlaud.Batches.NativeBatchRunner");
        Assert.Contains(batchId, logged.Message, StringComparison.Ordinal);
        Assert.Contains(ours, logged.Message, StringComparison.Ordinal);
        Assert.Contains(other, logged.Message, StringComparison.Ordinal);
        await second.StopAsync();
        (await LedgerAudit.ReadAsync(database.ConnectionString)).AssertConsistent();
    }

    [Fact]
    public async Task Native_ProviderFailedBeforeTakingItWhileTheGatewayStopped_IsSubmittedAgainAfterTheRestart()
    {
        using var database = new TempDatabase();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = Settings(database);
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.BeforeBatchCreate = async () =>
        {
            reached.TrySetResult();
            await release.Task;
            return false; // the provider fails before it takes the batch
        };
        string batchId;
        await using (var first = await GatewayHost.StartAsync(fake, settings, disposeFake: false))
        {
            (_, batchId, _) = await first.SubmitAsync(BatchTestClient.Jsonl([BatchTestClient.ChatLine("a"), BatchTestClient.ChatLine("b")]));
            await reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await first.StopAsync();
        }

        fake.BeforeBatchCreate = null;
        release.SetResult();
        await using var second = await GatewayHost.StartAsync(fake, settings, disposeFake: false);
        var done = await second.WaitForStatusAsync(batchId, "completed", "failed");

        Assert.Equal(2, done.GetProperty("request_counts").GetProperty("completed").GetInt32());
        Assert.Equal(2, fake.Requests.Count(static r => r is { Method: "POST", Path: "/v1/batches" })); // the lost one and the one taken
        Assert.Contains(fake.Requests, static r => r.Method == "GET" && r.Path.StartsWith("/v1/batches?", StringComparison.Ordinal));
        Assert.Equal(2, (await second.UsageRowsAsync()).Count(r => r.BatchId == batchId));

        // The lost submission's upload (its batch never created) is found by its name and deleted; the taken one's input and
        // output are deleted once the results are stored: nothing stays in the provider's file storage.
        Assert.Equal(2, fake.Requests.Count(static r => r is { Method: "POST", Path: "/v1/files" }));
        Assert.Contains(fake.Requests, static r => r.Method == "GET" && r.Path.StartsWith("/v1/files?", StringComparison.Ordinal));
        Assert.Equal(3, fake.Requests.Count(static r => r.Method == "DELETE" && r.Path.StartsWith("/v1/files/", StringComparison.Ordinal)));
        Assert.Empty(fake.BatchFileIds);
        await second.StopAsync();
        (await LedgerAudit.ReadAsync(database.ConnectionString)).AssertConsistent();
    }

    [Fact]
    public async Task CappedKey_NativeBatchInFlightAcrossARestart_ItsWorstCaseStaysHeldUntilItsResultsAreReconciled()
    {
        using var database = new TempDatabase();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = Settings(database);
        fake.HoldBatches = true; // the provider keeps running the batch across the restart

        // Two batch requests hold about 2 × 1,010 µUSD at the batch price; an interactive request of 1000 output tokens needs
        // about 2,010 µUSD at the normal price. Under a $0.003 cap it fits beside nothing, not beside the batch's holds.
        string batchId, secret;
        await using (var first = await GatewayHost.StartAsync(fake, settings, disposeFake: false))
        {
            (_, secret) = await first.MintKeyAsync("""{"end_user_id":"capped","max_spend_usd":0.003}""");
            (_, batchId, _) = await first.SubmitAsync(
                BatchTestClient.Jsonl([BatchTestClient.ChatLine("r0", maxTokens: 1000), BatchTestClient.ChatLine("r1", maxTokens: 1000)]), key: secret);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!fake.Requests.Any(static r => r.Method == "GET" && r.Path.StartsWith("/v1/batches/", StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < deadline, "the batch was not submitted and polled");
                await Task.Delay(20);
            }

            await first.StopAsync();
        }

        var logs = new LogCapture();
        await using var second = await GatewayHost.StartAsync(fake, settings, disposeFake: false, services: logs.AddTo);

        // Held again during start-up, before the worker resumed polling and before the server took this request.
        Assert.Contains(logs.Entries, static e => e.Category == "Qlaud.Batches.NativeBatchRunner" && e.Message.StartsWith("Held again the worst case of 2 requests of 1 batches", StringComparison.Ordinal));
        using (var http = second.Http(secret))
        {
            var (status, body) = await http.PostJsonAsync("/v1/chat/completions", """{"model":"fake-gpt","max_tokens":1000,"messages":[{"role":"user","content":"interactive"}]}""");
            Assert.Equal(HttpStatusCode.PaymentRequired, status);
            Assert.Equal("spend_limit_exceeded", body.GetProperty("error").GetProperty("code").GetString());
        }

        Assert.DoesNotContain(fake.Requests, static r => r.Path == "/v1/chat/completions"); // refused before any upstream call

        fake.HoldBatches = false;
        var done = await second.WaitForStatusAsync(batchId, "completed");
        Assert.Equal(2, done.GetProperty("request_counts").GetProperty("completed").GetInt32());

        // Reconciled: the holds gave way to the results' charges, so the same interactive request fits now.
        using (var http = second.Http(secret))
        {
            var (status, _) = await http.PostJsonAsync("/v1/chat/completions", """{"model":"fake-gpt","max_tokens":1000,"messages":[{"role":"user","content":"interactive"}]}""");
            Assert.Equal(HttpStatusCode.OK, status);
        }

        var route = second.Services.GetRequiredService<ModelCatalog>().Models.Single(static m => m.Id == "fake-gpt").Routes[0];
        var rows = (await second.UsageRowsAsync()).Where(r => r.BatchId == batchId).ToList();
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r =>
        {
            Assert.False(r.Estimated);
            Assert.Equal(route.BatchPrice.Cost(new TokenUsage(r.InputTokens, r.OutputTokens)), r.UpstreamCostMicros);
            Assert.Equal(r.UpstreamCostMicros, r.CostMicros); // charged in full: nothing written off
        });
        // The interactive request is settled once its response ended, which the client may see first.
        var until = DateTime.UtcNow.AddSeconds(10);
        List<Qlaud.Storage.LedgerEntryEntity> all;
        while ((all = await second.UsageRowsAsync()).All(static r => r.BatchId is not null))
        {
            Assert.True(DateTime.UtcNow < until, "the interactive request was not charged");
            await Task.Delay(20);
        }

        var interactive = Assert.Single(all, static r => r.BatchId is null);
        await second.StopAsync();
        var audit = await LedgerAudit.ReadAsync(database.ConnectionString);
        audit.AssertConsistent();

        // The key's spend is exactly the batch results' charges plus the one interactive request that was let through.
        var (_, spend, _) = Assert.Single(audit.Keys);
        Assert.Equal(rows.Sum(static r => r.CostMicros) + interactive.CostMicros, spend);
    }

    private static BatchCreateParams TwoRequests() => new()
    {
        Requests = [.. new[] { "x", "y" }.Select(static id => new Request
        {
            CustomID = id,
            Params = new Params { Model = "fake-claude", MaxTokens = 64, Messages = [new UserMessageParam($"hi {id}")] },
        })],
    };

    /// <summary>A message batch of <paramref name="requests"/> requests created at the fake by another client.</summary>
    private static async Task<string> CreateAtFakeAsync(FakeProviderServer fake, int requests)
    {
        using var http = new HttpClient { BaseAddress = fake.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        string items = string.Join(",", Enumerable.Range(0, requests).Select(static i =>
            $$$"""{"custom_id":"other{{{i}}}","params":{"model":"upstream-claude","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}}"""));
        var (status, body) = await http.PostJsonAsync("/v1/messages/batches", $$$"""{"requests":[{{{items}}}]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        return body.GetProperty("id").GetString()!;
    }

    /// <summary><paramref name="count"/> OpenAI batches of one request created at the fake by another client.</summary>
    private static async Task CreateOpenAIAtFakeAsync(FakeProviderServer fake, int count)
    {
        using var http = new HttpClient { BaseAddress = fake.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new StringContent("""{"custom_id":"other","method":"POST","url":"/v1/chat/completions","body":{"model":"upstream-gpt","messages":[{"role":"user","content":"hi"}]}}""" + "\n"), "file", "other.jsonl" },
        };
        using var uploaded = await http.PostAsync("/v1/files", form);
        string fileId = System.Text.Json.JsonDocument.Parse(await uploaded.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        for (int i = 0; i < count; i++)
        {
            var (status, _) = await http.PostJsonAsync("/v1/batches", $$"""{"input_file_id":"{{fileId}}","endpoint":"/v1/chat/completions","completion_window":"24h"}""");
            Assert.Equal(HttpStatusCode.OK, status);
        }
    }

    private static async Task<MessageBatch> WaitEndedAsync(GatewayHost gateway, string batchId)
    {
        var client = gateway.AnthropicClient();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        MessageBatch batch;
        while ((batch = await client.Messages.Batches.Retrieve(batchId)).ProcessingStatus.Value() != ProcessingStatus.Ended)
        {
            Assert.True(DateTime.UtcNow < deadline, $"batch {batchId} still {batch.ProcessingStatus.Value()}");
            await Task.Delay(50);
        }

        return batch;
    }
}
