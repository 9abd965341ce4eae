using System.Net;
using System.Text.Json;
using Anthropic.Models.Messages;
using Anthropic.Models.Messages.Batches;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests.Batches;

/// <summary>The Anthropic Message Batches API driven by the official Anthropic .NET SDK (strict response validation) against the
/// real gateway.</summary>
public sealed class AnthropicMessageBatchTests
{
    private static Request Ask(string customId, string model = "fake-claude", string? text = null) => new()
    {
        CustomID = customId,
        Params = new Params { Model = model, MaxTokens = 64, Messages = [new UserMessageParam(text ?? $"say hi {customId}")] },
    };

    [Fact]
    public async Task Batch_CreateRetrieveResultsListDelete_WithTheAnthropicSdk()
    {
        await using var gateway = await GatewayHost.StartAsync();
        var client = gateway.AnthropicClient();

        var created = await client.Messages.Batches.Create(new BatchCreateParams
        {
            Requests = [Ask("claude-1"), Ask("claude-2"), Ask("on-openai", model: "fake-gpt")], // the last one is translated to an OpenAI-dialect route
        });
        var ended = await WaitEndedAsync(client, created.ID);
        var results = new List<MessageBatchIndividualResponse>();
        await foreach (var result in client.Messages.Batches.ResultsStreaming(created.ID))
        {
            results.Add(result);
        }

        Assert.StartsWith("msgbatch_", created.ID);
        Assert.Equal(ProcessingStatus.InProgress, created.ProcessingStatus.Value());
        Assert.Equal(3, ended.RequestCounts.Succeeded);
        Assert.Equal(0, ended.RequestCounts.Processing + ended.RequestCounts.Errored + ended.RequestCounts.Canceled + ended.RequestCounts.Expired);
        Assert.NotNull(ended.EndedAt);
        Assert.EndsWith($"/v1/messages/batches/{created.ID}/results", ended.ResultsUrl);
        Assert.Equal(["claude-1", "claude-2", "on-openai"], results.Select(static r => r.CustomID));
        Assert.All(results, static r =>
        {
            Assert.True(r.Result.TryPickSucceeded(out var succeeded));
            Assert.True(Assert.Single(succeeded!.Message.Content).TryPickText(out var text));
            Assert.Equal(FakeProviderOptions.DefaultReplyText, text!.Text);
        });
        Assert.Equal(2, gateway.Fake.Requests.Count(static r => r.Path == "/v1/messages"));
        Assert.Equal(1, gateway.Fake.Requests.Count(static r => r.Path == "/v1/chat/completions"));
        var rows = (await gateway.UsageRowsAsync()).Where(r => r.BatchId == created.ID).ToList();
        Assert.Equal(3, rows.Count);

        var page = await client.Messages.Batches.List(new BatchListParams { Limit = 10 });
        Assert.Contains(page.Items, b => b.ID == created.ID);

        // Another end user's key does not see it; deleting it removes it.
        var (_, other) = await gateway.MintKeyAsync("""{"end_user_id":"mallory"}""");
        using var otherHttp = gateway.Http(other);
        Assert.Equal(HttpStatusCode.NotFound, (await otherHttp.GetAsync($"/v1/messages/batches/{created.ID}")).StatusCode);
        var deleted = await client.Messages.Batches.Delete(created.ID);
        Assert.Equal(created.ID, deleted.ID);
        using var http = gateway.Http();
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1/messages/batches/{created.ID}")).StatusCode);
    }

    [Fact]
    public async Task Cancel_MidBatch_RunningRequestsFinishAndTheRestAreCanceled()
    {
        await using var fake = await FakeProviderServer.StartAsync(new FakeProviderOptions { Latency = TimeSpan.FromMilliseconds(200) });
        await using var gateway = await GatewayHost.StartAsync(fake, new Dictionary<string, string?> { ["Qlaud:Batches:MaxConcurrencyPerBatch"] = "1" });
        var client = gateway.AnthropicClient();
        var created = await client.Messages.Batches.Create(new BatchCreateParams { Requests = [.. Enumerable.Range(0, 20).Select(static i => Ask($"r{i}"))] });
        await fake.WaitForRequestAsync();

        var cancelling = await client.Messages.Batches.Cancel(created.ID);
        var ended = await WaitEndedAsync(client, created.ID);
        var results = new List<MessageBatchIndividualResponse>();
        await foreach (var result in client.Messages.Batches.ResultsStreaming(created.ID))
        {
            results.Add(result);
        }

        Assert.NotNull(cancelling.CancelInitiatedAt);
        Assert.True(ended.RequestCounts.Succeeded >= 1);
        Assert.True(ended.RequestCounts.Canceled >= 1);
        Assert.Equal(20, ended.RequestCounts.Succeeded + ended.RequestCounts.Canceled);
        Assert.Equal(ended.RequestCounts.Succeeded, fake.Requests.Count); // canceled ones were never sent
        Assert.Equal(20, results.Count);
        Assert.Equal(ended.RequestCounts.Canceled, results.Count(static r => r.Result.TryPickCanceled(out _)));
    }

    [Fact]
    public async Task Create_InvalidRequests_Answers400InTheAnthropicEnvelopeNamingTheRequest()
    {
        await using var gateway = await GatewayHost.StartAsync();
        using var http = gateway.Http();
        const string Params = """{"model":"fake-claude","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}""";

        var (duplicate, duplicateBody) = await http.PostJsonAsync("/v1/messages/batches", $$"""{"requests":[{"custom_id":"a","params":{{Params}}},{"custom_id":"a","params":{{Params}}}]}""");
        var (unknown, unknownBody) = await http.PostJsonAsync("/v1/messages/batches",
            """{"requests":[{"custom_id":"a","params":{"model":"no-such-model","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, duplicate);
        Assert.Equal("error", duplicateBody.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", duplicateBody.GetProperty("error").GetProperty("type").GetString());
        Assert.StartsWith("requests.1.custom_id", duplicateBody.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, unknown);
        Assert.StartsWith("requests.0.params.model", unknownBody.GetProperty("error").GetProperty("message").GetString());
        Assert.Empty(gateway.Fake.Requests);
    }

    private static async Task<MessageBatch> WaitEndedAsync(Anthropic.AnthropicClient client, string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var batch = await client.Messages.Batches.Retrieve(id);
            if (batch.ProcessingStatus.Value() == ProcessingStatus.Ended)
            {
                return batch;
            }

            Assert.True(DateTime.UtcNow < deadline, $"batch {id} still {batch.ProcessingStatus.Raw()}");
            await Task.Delay(50);
        }
    }
}
