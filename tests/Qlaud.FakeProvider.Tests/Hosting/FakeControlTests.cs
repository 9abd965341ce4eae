using System.Net;
using System.Text.Json;

namespace Qlaud.FakeProvider.Tests.Hosting;

public sealed class FakeControlTests
{
    private static Task<FakeProviderServer> StartAsync(bool control = true)
        => FakeProviderServer.StartAsync(new FakeProviderOptions { ControlEndpoints = control });

    private static string Chat(string text, bool stream = false)
        => $$"""{"model":"m","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"{{text}}"}]}""";

    [Fact]
    public async Task Script_ToolCallThenText_OpenAIClientGetsThemInOrderForItsMarker()
    {
        await using var fake = await StartAsync();
        using var http = TestClients.Raw(fake);
        using var scripted = await http.PostAsync("/_fake/script", TestClients.Json("""
            {"match":"conv-7","replies":[
              {"tool_calls":[{"name":"Read","arguments":{"file_path":"/tmp/x.txt"},"id":"call_1"}],"usage":{"input_tokens":120,"output_tokens":12}},
              {"text":"It says hi.","reasoning":"Read it.","usage":{"input_tokens":130,"output_tokens":4,"reasoning_tokens":2}}]}
            """));
        Assert.Equal(HttpStatusCode.OK, scripted.StatusCode);

        using var unrelated = await http.PostAsync("/v1/chat/completions", TestClients.Json(Chat("background task")));
        using var first = await http.PostAsync("/v1/chat/completions", TestClients.Json(Chat("conv-7 read x")));
        using var second = await http.PostAsync("/v1/chat/completions", TestClients.Json(Chat("conv-7 read x, result hi")));

        using var unrelatedJson = JsonDocument.Parse(await unrelated.Content.ReadAsStringAsync());
        Assert.Equal(FakeProviderOptions.DefaultReplyText, unrelatedJson.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        using var firstJson = JsonDocument.Parse(await first.Content.ReadAsStringAsync());
        var call = firstJson.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("tool_calls")[0];
        Assert.Equal("call_1", call.GetProperty("id").GetString());
        Assert.Equal("Read", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("""{"file_path":"/tmp/x.txt"}""", call.GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal(120, firstJson.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        using var secondJson = JsonDocument.Parse(await second.Content.ReadAsStringAsync());
        var message = secondJson.RootElement.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal("It says hi.", message.GetProperty("content").GetString());
        Assert.Equal("Read it.", message.GetProperty("reasoning_content").GetString());
        Assert.Equal(4, secondJson.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Script_Text_AnthropicStreamCarriesIt()
    {
        await using var fake = await StartAsync();
        using var http = TestClients.Raw(fake);
        using var scripted = await http.PostAsync("/_fake/script", TestClients.Json("""{"match":"conv-a","replies":[{"text":"Streamed answer."}]}"""));
        scripted.EnsureSuccessStatusCode();

        using var response = await TestClients.PostStreamingAsync(http, "/v1/messages",
            """{"model":"m","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"conv-a"}]}""",
            default, ("x-api-key", "k"), ("anthropic-version", "2023-06-01"));
        var events = await TestClients.ReadEventsAsync(response);

        var text = string.Concat(events.Where(static e => e.EventType == "content_block_delta")
            .Select(static e => JsonDocument.Parse(e.Data).RootElement.GetProperty("delta").GetProperty("text").GetString()));
        Assert.Equal("Streamed answer.", text);
    }

    [Fact]
    public async Task Script_Error_AnswersThatStatus()
    {
        await using var fake = await StartAsync();
        using var http = TestClients.Raw(fake);
        (await http.PostAsync("/_fake/script", TestClients.Json("""{"match":"conv-e","replies":[{"error":{"status":529}}]}"""))).Dispose();

        using var response = await http.PostAsync("/v1/chat/completions", TestClients.Json(Chat("conv-e")));

        Assert.Equal(529, (int)response.StatusCode);
    }

    [Theory]
    [InlineData("""{"match":"m"}""", "replies must be a non-empty array.")]
    [InlineData("""{"match":"m","replies":[{}]}""", "replies[0]: a reply needs text, reasoning, tool_calls or error.")]
    [InlineData("""{"match":"m","replies":[{"tool_calls":[{"arguments":{}}]}]}""", "replies[0]: each tool call needs a name and an arguments object.")]
    [InlineData("""{"match":"m","replies":[{"error":{"status":200}}]}""", "replies[0]: error.status must be a number from 400 to 599.")]
    [InlineData("""[1]""", "The rule must be a JSON object.")]
    public async Task Script_MalformedRule_Answers400AndQueuesNothing(string rule, string expected)
    {
        await using var fake = await StartAsync();
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/_fake/script", TestClients.Json(rule));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(expected, body.RootElement.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(0, fake.Script.Pending);
    }

    [Fact]
    public async Task Requests_AfterChats_ListsThemWithParsedBodiesAndNotTheControlCalls()
    {
        await using var fake = await StartAsync();
        using var http = TestClients.Raw(fake);
        (await http.PostAsync("/_fake/script", TestClients.Json("""{"replies":[{"text":"x"}]}"""))).Dispose();
        (await http.PostAsync("/v1/chat/completions", TestClients.Json(Chat("first", stream: true)))).Dispose();

        using var listed = await http.GetAsync("/_fake/requests");
        using var json = JsonDocument.Parse(await listed.Content.ReadAsStringAsync());

        var request = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal("POST", request.GetProperty("method").GetString());
        Assert.Equal("/v1/chat/completions", request.GetProperty("path").GetString());
        Assert.Equal("m", request.GetProperty("model").GetString());
        Assert.True(request.GetProperty("stream").GetBoolean());
        Assert.Equal("application/json; charset=utf-8", request.GetProperty("headers").GetProperty("content-type").GetString());
        Assert.Equal("first", request.GetProperty("body").GetProperty("messages")[0].GetProperty("content").GetString());
    }

    [Fact]
    public async Task DeleteRequests_WithRecordsAndRules_ForgetsBoth()
    {
        await using var fake = await StartAsync();
        using var http = TestClients.Raw(fake);
        (await http.PostAsync("/_fake/script", TestClients.Json("""{"match":"never","replies":[{"text":"x"}]}"""))).Dispose();
        (await http.PostAsync("/v1/chat/completions", TestClients.Json(Chat("hi")))).Dispose();

        using var deleted = await http.DeleteAsync("/_fake/requests");

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Empty(fake.Requests);
        Assert.Equal(0, fake.Script.Pending);
    }

    [Fact]
    public async Task ControlPath_ControlOff_IsAnUnknownUrl()
    {
        await using var fake = await StartAsync(control: false);
        using var http = TestClients.Raw(fake);

        using var response = await http.PostAsync("/_fake/script", TestClients.Json("""{"replies":[{"text":"x"}]}"""));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(0, fake.Script.Pending);
    }
}
