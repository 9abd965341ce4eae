using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using Qlaud.AspNetCore.Tests.Infrastructure;
using Qlaud.FakeProvider;

namespace Qlaud.AspNetCore.Tests;

/// <summary>
/// Structured output across dialects: an OpenAI client's <c>response_format</c> on a Claude route (forced tool, or Anthropic's
/// <c>output_config.format</c> where the route has <c>structured_outputs</c>), and an Anthropic client's <c>output_config.format</c>
/// on an OpenAI-dialect route, driven by the official OpenAI SDK and raw HTTP against the fake upstream.
/// </summary>
public sealed class StructuredOutputTests : IAsyncLifetime
{
    private const string WeatherSchema = """{"type":"object","properties":{"city":{"type":"string"},"temp_c":{"type":"integer"}},"required":["city","temp_c"],"additionalProperties":false}""";
    private const string WeatherJson = """{"city":"Paris","temp_c":21}""";

    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(settings: new Dictionary<string, string?>
    {
        ["Qlaud:Models:2:Id"] = "fake-claude-native",
        ["Qlaud:Models:2:Capabilities:0"] = "tools",
        ["Qlaud:Models:2:Capabilities:1"] = "structured_outputs",
        ["Qlaud:Models:2:Routes:0:Provider"] = "fakeanthropic",
        ["Qlaud:Models:2:Routes:0:UpstreamModel"] = "upstream-claude-native",
        ["Qlaud:Models:2:Routes:0:InputPerMTok"] = "3",
        ["Qlaud:Models:2:Routes:0:OutputPerMTok"] = "15",
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static ChatCompletionOptions WeatherFormat(bool strict) => new()
    {
        ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("weather", BinaryData.FromString(WeatherSchema), "The weather in one city.", jsonSchemaIsStrict: strict),
    };

    [Fact]
    public async Task CompleteChat_JsonSchemaOnClaudeRoute_ForcesOneToolAndReturnsItsInputAsContent()
    {
        _gateway.Fake.Enqueue(FakeReply.ToolCall("weather", WeatherJson));

        ChatCompletion completion = await _gateway.OpenAIChat("fake-claude").CompleteChatAsync([new UserChatMessage("Weather in Paris?")], WeatherFormat(strict: true));

        var upstream = _gateway.Fake.Requests[0].BodyJson!.Value;
        var tool = Assert.Single(upstream.GetProperty("tools").EnumerateArray());
        Assert.Equal("weather", tool.GetProperty("name").GetString());
        Assert.Equal("The weather in one city.", tool.GetProperty("description").GetString());
        Assert.Equal(WeatherSchema, tool.GetProperty("input_schema").GetRawText());
        Assert.Equal("""{"type":"tool","name":"weather"}""", upstream.GetProperty("tool_choice").GetRawText());
        Assert.False(upstream.TryGetProperty("output_config", out _));

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Empty(completion.ToolCalls);
        using var answer = JsonDocument.Parse(Assert.Single(completion.Content).Text);
        Assert.Equal("Paris", answer.RootElement.GetProperty("city").GetString());
        Assert.Equal(21, answer.RootElement.GetProperty("temp_c").GetInt32());
    }

    [Fact]
    public async Task CompleteChatStreaming_JsonSchemaOnClaudeRoute_ToolInputArrivesAsContentDeltas()
    {
        _gateway.Fake.Enqueue(FakeReply.ToolCall("weather", WeatherJson) with { ChunkSize = 5 });

        var text = new StringBuilder();
        int deltas = 0;
        ChatFinishReason? finish = null;
        await foreach (var update in _gateway.OpenAIChat("fake-claude").CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], WeatherFormat(strict: false)))
        {
            Assert.Empty(update.ToolCallUpdates);
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
                deltas++;
            }

            finish = update.FinishReason ?? finish;
        }

        var upstream = _gateway.Fake.Requests[0].BodyJson!.Value;
        Assert.True(upstream.GetProperty("stream").GetBoolean());
        Assert.Equal("weather", upstream.GetProperty("tool_choice").GetProperty("name").GetString());
        Assert.Equal(WeatherJson, text.ToString());
        Assert.True(deltas > 1, "the tool input is relayed as it streams, not buffered");
        Assert.Equal(ChatFinishReason.Stop, finish);
    }

    [Fact]
    public async Task CompleteChat_StrictSchemaOnStructuredOutputsRoute_SendsOutputConfigFormat()
    {
        _gateway.Fake.Enqueue(FakeReply.Text(WeatherJson));

        ChatCompletion completion = await _gateway.OpenAIChat("fake-claude-native").CompleteChatAsync([new UserChatMessage("Weather in Paris?")], WeatherFormat(strict: true));

        var upstream = _gateway.Fake.Requests[0].BodyJson!.Value;
        Assert.Equal("""{"format":{"type":"json_schema","schema":""" + WeatherSchema + "}}", upstream.GetProperty("output_config").GetRawText());
        Assert.False(upstream.TryGetProperty("tools", out _));
        Assert.False(upstream.TryGetProperty("tool_choice", out _));
        Assert.Equal(WeatherJson, Assert.Single(completion.Content).Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
    }

    [Fact]
    public async Task CompleteChat_NonStrictSchemaOnStructuredOutputsRoute_ForcesTool()
    {
        _gateway.Fake.Enqueue(FakeReply.ToolCall("weather", WeatherJson));

        ChatCompletion completion = await _gateway.OpenAIChat("fake-claude-native").CompleteChatAsync([new UserChatMessage("Weather in Paris?")], WeatherFormat(strict: false));

        var upstream = _gateway.Fake.Requests[0].BodyJson!.Value;
        Assert.False(upstream.TryGetProperty("output_config", out _));
        Assert.Equal("weather", upstream.GetProperty("tool_choice").GetProperty("name").GetString());
        Assert.Equal(WeatherJson, Assert.Single(completion.Content).Text);
    }

    [Fact]
    public async Task CompleteChat_JsonObjectOnClaudeRoute_ForcesOpenObjectTool()
    {
        _gateway.Fake.Enqueue(FakeReply.ToolCall("json_response", """{"answer":42,"items":["a","b"]}"""));

        ChatCompletion completion = await _gateway.OpenAIChat("fake-claude").CompleteChatAsync(
            [new UserChatMessage("Answer in JSON.")], new ChatCompletionOptions { ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() });

        var upstream = _gateway.Fake.Requests[0].BodyJson!.Value;
        var tool = Assert.Single(upstream.GetProperty("tools").EnumerateArray());
        Assert.Equal("json_response", tool.GetProperty("name").GetString());
        Assert.Equal("""{"type":"object"}""", tool.GetProperty("input_schema").GetRawText());
        Assert.Equal("""{"type":"tool","name":"json_response"}""", upstream.GetProperty("tool_choice").GetRawText());
        using var answer = JsonDocument.Parse(Assert.Single(completion.Content).Text);
        Assert.Equal(42, answer.RootElement.GetProperty("answer").GetInt32());
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
    }

    [Fact]
    public async Task CompleteChat_JsonSchemaWithClientTools_KeepsToolsAndRequiresAny()
    {
        _gateway.Fake.Enqueue(FakeReply.ToolCall("get_time", """{"zone":"CET"}"""));
        var options = WeatherFormat(strict: false);
        options.Tools.Add(ChatTool.CreateFunctionTool("get_time", "The time.", BinaryData.FromString("""{"type":"object","properties":{"zone":{"type":"string"}}}""")));

        ChatCompletion completion = await _gateway.OpenAIChat("fake-claude").CompleteChatAsync([new UserChatMessage("Time?")], options);

        var upstream = _gateway.Fake.Requests[0].BodyJson!.Value;
        Assert.Equal(new[] { "get_time", "weather" }, upstream.GetProperty("tools").EnumerateArray().Select(static t => t.GetProperty("name").GetString()!).ToArray());
        Assert.Equal("any", upstream.GetProperty("tool_choice").GetProperty("type").GetString());
        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        Assert.Equal("get_time", Assert.Single(completion.ToolCalls).FunctionName);
    }

    [Theory]
    [InlineData("output_config", """{"format":{"type":"json_schema","schema":SCHEMA}}""")]
    [InlineData("output_format", """{"type":"json_schema","schema":SCHEMA}""")]
    public async Task PostMessages_StructuredOutputOnOpenAIRoute_BecomesResponseFormatJsonSchema(string field, string value)
    {
        _gateway.Fake.Enqueue(FakeReply.Text(WeatherJson));
        string body = $$"""{"model":"fake-gpt","max_tokens":100,"messages":[{"role":"user","content":"Weather in Paris?"}],"{{field}}":{{value.Replace("SCHEMA", WeatherSchema, StringComparison.Ordinal)}}}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await _gateway.Http().SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var upstream = _gateway.Fake.Requests[0].BodyJson!.Value;
        var format = upstream.GetProperty("response_format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.Equal(WeatherSchema, format.GetProperty("json_schema").GetProperty("schema").GetRawText());
        Assert.False(upstream.TryGetProperty(field, out _));
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(WeatherJson, answer.RootElement.GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task PostMessages_OutputConfigFormatNotJsonSchema_Is400InAnthropicShape()
    {
        const string body = """{"model":"fake-gpt","max_tokens":100,"messages":[{"role":"user","content":"hi"}],"output_config":{"format":{"type":"xml"}}}""";
        using var response = await _gateway.Http().PostAsync("/v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("error", error.RootElement.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("output_config.format.type", error.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(_gateway.Fake.Requests);
    }
}
