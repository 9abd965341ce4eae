using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Qlaud.FakeProvider.Tests.Hosting;

public sealed class FakeProviderServerTests
{
    private const string ChatRequest = """{"model":"m","messages":[{"role":"user","content":"Hi"}]}""";
    private const string StreamRequest = """{"model":"m","stream":true,"messages":[{"role":"user","content":"Hi"}]}""";

    [Fact]
    public async Task StartAsync_DefaultOptions_ListensOnLoopbackWithoutTrailingSlash()
    {
        await using var fake = await FakeProviderServer.StartAsync();

        Assert.Equal("127.0.0.1", fake.BaseUri.Host);
        Assert.NotEqual(0, fake.BaseUri.Port);
        Assert.Equal($"http://127.0.0.1:{fake.BaseUri.Port}/v1", fake.OpenAIBaseUri.ToString());
    }

    [Fact]
    public async Task StartAsync_InvalidOptions_Throws()
        => await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => FakeProviderServer.StartAsync(new FakeProviderOptions { ChunkSize = 0 }));

    [Fact]
    public async Task Enqueue_ThenResponder_ThenDefault_AnswerInThatOrder()
    {
        await using var fake = await FakeProviderServer.StartAsync(new FakeProviderOptions { DefaultText = "default" });
        using var http = TestClients.Raw(fake);
        fake.Enqueue(FakeReply.Text("first"), FakeReply.Text("second"));

        var answers = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            answers.Add(await ContentOfAsync(http));
        }

        fake.Responder = request => FakeReply.Text($"responder saw {request.Model}");
        answers.Add(await ContentOfAsync(http));
        fake.Responder = null;
        answers.Add(await ContentOfAsync(http));

        Assert.Equal(["first", "second", "default", "responder saw m", "default"], answers);
    }

    [Fact]
    public async Task Hang_ClientCancels_MarksRequestCancelled()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Hang());
        using var http = TestClients.Raw(fake);
        using var cts = new CancellationTokenSource();

        var call = http.PostAsync("/v1/chat/completions", TestClients.Json(ChatRequest), cts.Token);
        var recorded = await fake.WaitForRequestAsync();
        Assert.False(recorded.Completion.IsCompleted);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await recorded.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(recorded.Cancelled);
    }

    [Fact]
    public async Task Stream_ClientDisconnectsMidStream_MarksRequestCancelled()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Text(new string('x', 400)) with { ChunkSize = 4, ChunkDelay = TimeSpan.FromMilliseconds(20) });
        using var http = TestClients.Raw(fake);

        using (var response = await TestClients.PostStreamingAsync(http, "/v1/chat/completions", StreamRequest))
        {
            await using var stream = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64];
            Assert.True(await stream.ReadAsync(buffer) > 0);
        }

        var recorded = Assert.Single(fake.Requests);
        await recorded.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(recorded.Cancelled);
    }

    [Fact]
    public async Task Latency_ClientGivesUpWhileWaiting_MarksRequestCancelled()
    {
        await using var fake = await FakeProviderServer.StartAsync(new FakeProviderOptions { Latency = TimeSpan.FromSeconds(30) });
        using var http = TestClients.Raw(fake);
        using var cts = new CancellationTokenSource();
        var call = http.PostAsync("/v1/chat/completions", TestClients.Json(ChatRequest), cts.Token);

        // Give up only once the fake holds the request: a timer could fire before a busy machine even sent it.
        var recorded = await fake.WaitForRequestAsync();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        Assert.Single(fake.Requests);
        await recorded.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(recorded.Cancelled);
    }

    [Fact]
    public async Task Latency_Scripted_DelaysTheResponseHeaders()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Text("slow") with { Latency = TimeSpan.FromMilliseconds(150) });
        using var http = TestClients.Raw(fake);

        var watch = Stopwatch.StartNew();
        using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json(ChatRequest));

        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(140), $"answered after {watch.Elapsed}");
        var recorded = Assert.Single(fake.Requests);
        Assert.False(recorded.Cancelled);
    }

    [Fact]
    public async Task DisposeAsync_WhileARequestHangs_StopsPromptly()
    {
        var fake = await FakeProviderServer.StartAsync();
        fake.Enqueue(FakeReply.Hang());
        using var http = TestClients.Raw(fake);
        var call = http.PostAsync("/v1/chat/completions", TestClients.Json(ChatRequest));
        var recorded = await fake.WaitForRequestAsync();

        var watch = Stopwatch.StartNew();
        await fake.DisposeAsync();

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"dispose took {watch.Elapsed}");
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => call);
        Assert.True(recorded.Completion.IsCompleted);
        Assert.False(recorded.Cancelled);
    }

    [Fact]
    public async Task RecordRequestsOff_AnswersButKeepsNothing()
    {
        await using var fake = await FakeProviderServer.StartAsync(new FakeProviderOptions { RecordRequests = false });
        using var http = TestClients.Raw(fake);
        RecordedRequest? seen = null;
        fake.Responder = request =>
        {
            seen = request;
            return FakeReply.Text("from responder");
        };

        Assert.Equal("from responder", await ContentOfAsync(http));

        Assert.Empty(fake.Requests);
        Assert.Equal("m", seen!.Model);
        await Assert.ThrowsAsync<InvalidOperationException>(() => fake.WaitForRequestAsync());
    }

    [Fact]
    public async Task WaitForRequestAsync_RequestArrivesLater_ReturnsIt()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = TestClients.Raw(fake);

        var wait = fake.WaitForRequestAsync(r => r.Path == "/v1/chat/completions");
        await http.GetAsync("/v1/models");
        Assert.False(wait.IsCompleted);
        await http.PostAsync("/v1/chat/completions", TestClients.Json(ChatRequest));

        var request = await wait;
        Assert.Equal("POST", request.Method);
        Assert.Equal(2, fake.Requests.Count);
    }

    [Fact]
    public async Task WaitForRequestAsync_NothingArrives_TimesOut()
    {
        await using var fake = await FakeProviderServer.StartAsync();

        await Assert.ThrowsAsync<TimeoutException>(() => fake.WaitForRequestAsync(timeout: TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public async Task ClearRequests_AfterRequests_EmptiesTheRecord()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = TestClients.Raw(fake);
        await http.GetAsync("/v1/models");

        fake.ClearRequests();

        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task Requests_ManyConcurrentCalls_AreAllRecordedAndAnswered()
    {
        await using var fake = await FakeProviderServer.StartAsync();
        using var http = TestClients.Raw(fake);

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => http.PostAsync("/v1/chat/completions", TestClients.Json(StreamRequest))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(50, fake.Requests.Count);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    private static async Task<string> ContentOfAsync(HttpClient http)
    {
        using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json(ChatRequest));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
    }
}
