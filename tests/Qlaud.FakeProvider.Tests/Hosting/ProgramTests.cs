using System.Net;
using System.Text.Json;

namespace Qlaud.FakeProvider.Tests.Hosting;

public sealed class ProgramTests
{
    private const string ChatRequest = """{"model":"m","messages":[{"role":"user","content":"Hi"}]}""";

    [Fact]
    public void ParseArguments_BenchmarkCommandLine_SetsEveryOption()
    {
        var arguments = Program.ParseArguments(["--urls", "http://127.0.0.1:9100", "--latency-ms", "20", "--chunk-size", "8", "--chunk-delay-ms", "2", "--text", "bench"]);
        var options = arguments.Options;

        Assert.Equal(9100, options.Port);
        Assert.Equal(TimeSpan.FromMilliseconds(20), options.Latency);
        Assert.Equal(8, options.ChunkSize);
        Assert.Equal(TimeSpan.FromMilliseconds(2), options.ChunkDelay);
        Assert.Equal("bench", options.DefaultText);
        Assert.False(options.RecordRequests);
        Assert.Null(arguments.FailEvery);
    }

    [Fact]
    public void ParseArguments_Record_TurnsRecordingOn()
        => Assert.True(Program.ParseArguments(["--port", "0", "--record"]).Options.RecordRequests);

    [Fact]
    public void ParseArguments_Control_TurnsControlEndpointsOn()
    {
        Assert.True(Program.ParseArguments(["--port", "0", "--control"]).Options.ControlEndpoints);
        Assert.False(Program.ParseArguments(["--port", "0"]).Options.ControlEndpoints);
    }

    [Fact]
    public void ParseArguments_FailEveryWithoutStatus_Fails503()
    {
        var arguments = Program.ParseArguments(["--port", "0", "--fail-every", "2"]);

        Assert.Equal(2, arguments.FailEvery);
        Assert.Equal(503, arguments.FailStatus);
    }

    [Theory]
    [InlineData("--urls", "http://10.0.0.5:9100")]
    [InlineData("--urls", "https://127.0.0.1:9100")]
    [InlineData("--chunk-size", "0")]
    [InlineData("--latency-ms", "soon")]
    [InlineData("--fail-every", "0")]
    [InlineData("--fail-status", "503")]
    [InlineData("--colour", "blue")]
    public void ParseArguments_BadValue_ThrowsFormatException(string name, string value)
        => Assert.Throws<FormatException>(() => Program.ParseArguments([name, value]));

    [Theory]
    [InlineData("200")]
    [InlineData("600")]
    public void ParseArguments_FailStatusNotAnError_ThrowsFormatException(string status)
        => Assert.Throws<FormatException>(() => Program.ParseArguments(["--fail-every", "2", "--fail-status", status]));

    [Fact]
    public void ParseArguments_MissingValue_ThrowsFormatException()
        => Assert.Throws<FormatException>(() => Program.ParseArguments(["--chunk-size"]));

    [Fact]
    public async Task StartAsync_FailEveryTwo503_FailsOddRequestsWithAnOpenAIError()
    {
        await using var fake = await Program.StartAsync(Program.ParseArguments(["--port", "0", "--text", "fine", "--fail-every", "2", "--fail-status", "503"]));
        using var http = TestClients.Raw(fake);

        var statuses = new List<HttpStatusCode>();
        string? firstError = null;
        string? secondAnswer = null;
        for (var i = 0; i < 6; i++)
        {
            using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json(ChatRequest));
            statuses.Add(response.StatusCode);
            var body = await response.Content.ReadAsStringAsync();
            if (i == 0)
            {
                firstError = body;
            }
            else if (i == 1)
            {
                secondAnswer = body;
            }
        }

        Assert.Equal(
            [HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK],
            statuses);
        using var error = JsonDocument.Parse(firstError!);
        var envelope = error.RootElement.GetProperty("error");
        Assert.Equal("server_error", envelope.GetProperty("type").GetString());
        Assert.Contains("503", envelope.GetProperty("message").GetString(), StringComparison.Ordinal);
        using var answer = JsonDocument.Parse(secondAnswer!);
        Assert.Equal("fine", answer.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task StartAsync_FailEveryThreeConcurrently_FailsExactlyOneInThree()
    {
        await using var fake = await Program.StartAsync(Program.ParseArguments(["--port", "0", "--fail-every", "3", "--fail-status", "502"]));
        using var http = TestClients.Raw(fake);

        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => http.PostAsync("/v1/chat/completions", TestClients.Json(ChatRequest))));

        Assert.Equal(10, responses.Count(r => r.StatusCode == HttpStatusCode.BadGateway));
        Assert.Equal(20, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }
}
