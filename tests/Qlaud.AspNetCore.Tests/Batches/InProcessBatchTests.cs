using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.Batches;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Batches;

/// <summary><see cref="IQlaudBatches"/> from app code: submit a batch and follow its results as they finish.</summary>
public sealed class InProcessBatchTests
{
    [Fact]
    public async Task ResultsAsync_FollowsTheBatchAsItRuns_YieldingEveryResultOnceAndEndingWithTheBatch()
    {
        await using var fake = await FakeProviderServer.StartAsync(new FakeProviderOptions { Latency = TimeSpan.FromMilliseconds(100) });
        await using var gateway = await GatewayHost.StartAsync(fake, new Dictionary<string, string?> { ["Qlaud:Batches:MaxConcurrencyPerBatch"] = "1" });
        var batches = gateway.Services.GetRequiredService<IQlaudBatches>();
        var (_, secret) = await gateway.MintKeyAsync("""{"end_user_id":"app-user"}""");
        var caller = await gateway.CallerAsync(secret);
        var requests = Enumerable.Range(0, 5)
            .Select(static i => new BatchRequestInput($"q{i}", Encoding.UTF8.GetBytes($$"""{"model":"fake-gpt","messages":[{"role":"user","content":"q{{i}}"}]}""")))
            .ToList();

        var batch = await batches.CreateAsync(caller, new NewBatch { Endpoint = QlaudBatchEndpoint.ChatCompletions, Requests = requests });
        var seen = new List<(QlaudBatchResult Result, int FinishedWhenSeen)>();
        await foreach (var result in batches.ResultsAsync(caller, batch.Id).WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token))
        {
            var now = await batches.GetAsync(caller, batch.Id);
            seen.Add((result, now!.RequestCounts.Total - now.RequestCounts.Processing));
        }

        var ended = await batches.GetAsync(caller, batch.Id);
        Assert.Equal("openai", batch.Surface);
        Assert.Equal(QlaudBatchStatus.Completed, ended!.Status);
        Assert.Equal(["q0", "q1", "q2", "q3", "q4"], seen.Select(static s => s.Result.CustomId));
        Assert.All(seen, static s =>
        {
            Assert.Equal(BatchRequestState.Succeeded, s.Result.State);
            using var body = JsonDocument.Parse(s.Result.Body!.Value);
            Assert.Equal("chat.completion", body.RootElement.GetProperty("object").GetString());
        });
        Assert.True(seen[0].FinishedWhenSeen < 5, "the first result arrived only after the whole batch ended");

        // Another end user's key cannot follow or see it.
        var (_, other) = await gateway.MintKeyAsync("""{"end_user_id":"someone-else"}""");
        var otherCaller = await gateway.CallerAsync(other);
        Assert.Null(await batches.GetAsync(otherCaller, batch.Id));
        var error = await Assert.ThrowsAsync<QlaudException>(async () =>
        {
            await foreach (var _ in batches.ResultsAsync(otherCaller, batch.Id))
            {
            }
        });
        Assert.Equal(404, error.Error.StatusCode);
    }

    [Fact]
    public async Task CreateAsync_InvalidRequest_ThrowsA400NamingIt()
    {
        await using var gateway = await GatewayHost.StartAsync();
        var batches = gateway.Services.GetRequiredService<IQlaudBatches>();
        var body = Encoding.UTF8.GetBytes("""{"model":"fake-gpt","stream":true,"messages":[{"role":"user","content":"x"}]}""");

        var error = await Assert.ThrowsAsync<QlaudException>(() => batches.CreateAsync(QlaudCaller.InProcess,
            new NewBatch { Endpoint = QlaudBatchEndpoint.ChatCompletions, Requests = [new BatchRequestInput("s", body)] }));

        Assert.Equal(400, error.Error.StatusCode);
        Assert.StartsWith("requests.0.params.stream", error.Message);
    }
}

/// <summary>Erasing an end user removes their batches and files too.</summary>
public sealed class BatchErasureTests
{
    [Fact]
    public async Task EraseEndUser_DeletesTheirBatchesAndFilesAndLeavesOthers()
    {
        await using var gateway = await GatewayHost.StartAsync();
        var (_, alice) = await gateway.MintKeyAsync("""{"end_user_id":"alice"}""");
        var (_, bob) = await gateway.MintKeyAsync("""{"end_user_id":"bob"}""");
        var (aliceFile, aliceBatch, _) = await gateway.SubmitAsync(BatchTestClient.Jsonl([BatchTestClient.ChatLine("a")]), key: alice);
        var (_, bobBatch, _) = await gateway.SubmitAsync(BatchTestClient.Jsonl([BatchTestClient.ChatLine("b")]), key: bob);
        await gateway.WaitForStatusAsync(aliceBatch, "completed");
        await gateway.WaitForStatusAsync(bobBatch, "completed");

        using var admin = gateway.Http();
        var (status, erased) = await admin.DeleteJsonAsync("/v1/end_users/alice");

        Assert.Equal(System.Net.HttpStatusCode.OK, status);
        Assert.Equal(1, erased.GetProperty("batches_deleted").GetInt32());
        Assert.Equal(2, erased.GetProperty("files_deleted").GetInt32()); // the input and the output file
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await admin.GetAsync($"/v1/batches/{aliceBatch}")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await admin.GetAsync($"/v1/files/{aliceFile}")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await admin.GetAsync($"/v1/batches/{bobBatch}")).StatusCode);
    }

    [Fact]
    public async Task DeleteAsync_EndedOpenAIBatch_TakesItsOutputFileButLeavesTheInputFile()
    {
        await using var gateway = await GatewayHost.StartAsync();
        var (fileId, batchId, _) = await gateway.SubmitAsync(BatchTestClient.Jsonl([BatchTestClient.ChatLine("a"), BatchTestClient.ChatLine("b")]));
        var ended = await gateway.WaitForStatusAsync(batchId, "completed");
        string outputFileId = ended.GetProperty("output_file_id").GetString()!;
        var batches = gateway.Services.GetRequiredService<IQlaudBatches>();
        using var http = gateway.Http();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetJsonAsync($"/v1/files/{outputFileId}")).Status);

        Assert.True(await batches.DeleteAsync(QlaudCaller.InProcess, batchId));

        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetJsonAsync($"/v1/files/{outputFileId}")).Status);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetJsonAsync($"/v1/files/{fileId}")).Status);
        Assert.Null(await batches.GetAsync(QlaudCaller.InProcess, batchId));
    }
}
