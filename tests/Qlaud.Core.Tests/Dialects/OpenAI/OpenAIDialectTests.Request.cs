using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaud.Dialects;
using Qlaud.Dialects.OpenAI;

namespace Qlaud.Core.Tests.Dialects.OpenAI;

public sealed partial class OpenAIDialectTests
{
    private const string RichRequest = """
        {
          "model": "openai/gpt-4o",
          "messages": [
            {"role": "developer", "content": "You are terse."},
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "name": "alice", "content": [
              {"type": "text", "text": "What is in these images?", "cache_control": {"type": "ephemeral"}},
              {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
              {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
              {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\":21}"},
            {"role": "assistant", "content": "Il fait 21 degrés."},
            {"role": "user", "content": "Merci"}
          ],
          "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false},
            "strict": true}}],
          "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
          "parallel_tool_calls": false,
          "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "description": "The answer",
            "schema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"], "additionalProperties": false},
            "strict": true}},
          "temperature": 0.5,
          "top_p": 0.9,
          "max_completion_tokens": 512,
          "stop": ["END"],
          "seed": 42,
          "frequency_penalty": 0.25,
          "presence_penalty": -0.5,
          "reasoning_effort": "low",
          "user": "end-user-7",
          "stream": true,
          "stream_options": {"include_usage": true},
          "top_k": 40,
          "provider": {"order": ["openai", "azure"], "allow_fallbacks": false},
          "logprobs": true,
          "top_logprobs": 2,
          "metadata": {"trace": "t-1"}
        }
        """;

    private static readonly OpenAIDialect Dialect = OpenAIDialect.Instance;

    private static CanonicalChatRequest Read(string json) => Dialect.ReadRequest(Encoding.UTF8.GetBytes(json));

    private static string WriteRequest(CanonicalChatRequest request, string model = "gpt-4o-2024-08-06", OpenAIDialect? dialect = null) =>
        JsonAssert.Write(writer => (dialect ?? Dialect).WriteRequest(writer, request, model));

    [Fact]
    public void ReadRequest_RichRequest_MapsMessagesToCanonical()
    {
        var request = Read(RichRequest);

        Assert.True(request.Stream);
        var messages = request.Messages;
        Assert.Equal(7, messages.Count);

        Assert.Equal(ChatRole.System, messages[0].Role);
        Assert.Equal("developer", messages[0].AdditionalProperties?[OpenAIDialect.RoleKey]);
        Assert.Equal("You are terse.", messages[0].Text);
        Assert.Equal(ChatRole.System, messages[1].Role);
        Assert.Null(messages[1].AdditionalProperties);

        var user = messages[2];
        Assert.Equal(ChatRole.User, user.Role);
        Assert.Equal("alice", user.AuthorName);
        var text = Assert.IsType<TextContent>(user.Contents[0]);
        Assert.Equal("What is in these images?", text.Text);
        var cacheControl = Assert.IsType<JsonElement>(text.AdditionalProperties?[CanonicalKeys.CacheControl]);
        Assert.Equal("ephemeral", cacheControl.GetProperty("type").GetString());
        var url = Assert.IsType<UriContent>(user.Contents[1]);
        Assert.Equal("https://example.com/cat.png", url.Uri.OriginalString);
        Assert.Equal("high", url.AdditionalProperties?[OpenAIDialect.DetailKey]);
        var data = Assert.IsType<DataContent>(user.Contents[2]);
        Assert.Equal("image/png", data.MediaType);
        Assert.Equal("iVBORw0KGgo=", data.Base64Data.ToString());

        var call = Assert.IsType<FunctionCallContent>(Assert.Single(messages[3].Contents));
        Assert.Equal(ChatRole.Assistant, messages[3].Role);
        Assert.Equal("call_1", call.CallId);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", Assert.IsType<JsonElement>(call.Arguments?["city"]).GetString());

        var result = Assert.IsType<FunctionResultContent>(Assert.Single(messages[4].Contents));
        Assert.Equal(ChatRole.Tool, messages[4].Role);
        Assert.Equal("call_1", result.CallId);
        Assert.Equal("{\"temp\":21}", result.Result);

        Assert.Equal("Il fait 21 degrés.", messages[5].Text);
    }

    [Fact]
    public void ReadRequest_RichRequest_MapsOptionsToCanonical()
    {
        var options = Read(RichRequest).Options;

        Assert.Equal("openai/gpt-4o", options.ModelId);
        Assert.Equal(0.5f, options.Temperature);
        Assert.Equal(0.9f, options.TopP);
        Assert.Equal(512, options.MaxOutputTokens);
        Assert.Equal(["END"], options.StopSequences!);
        Assert.Equal(42L, options.Seed);
        Assert.Equal(0.25f, options.FrequencyPenalty);
        Assert.Equal(-0.5f, options.PresencePenalty);
        Assert.Equal(ReasoningEffort.Low, options.Reasoning?.Effort);
        Assert.False(options.AllowMultipleToolCalls);
        Assert.Equal("get_weather", Assert.IsType<RequiredChatToolMode>(options.ToolMode).RequiredFunctionName);

        var tool = Assert.IsType<OpenAIFunctionDeclaration>(Assert.Single(options.Tools!));
        Assert.Equal("get_weather", tool.Name);
        Assert.Equal("Current weather", tool.Description);
        Assert.True(tool.Strict);
        Assert.Equal(true, tool.AdditionalProperties["strict"]);
        Assert.Equal("city", tool.JsonSchema.GetProperty("required")[0].GetString());

        var format = Assert.IsType<ChatResponseFormatJson>(options.ResponseFormat);
        Assert.Equal("answer", format.SchemaName);
        Assert.Equal("The answer", format.SchemaDescription);
        Assert.Equal("object", format.Schema?.GetProperty("type").GetString());

        var extra = options.AdditionalProperties!;
        Assert.Equal(true, extra[OpenAIDialect.JsonSchemaStrictKey]);
        Assert.Equal("max_completion_tokens", extra[CanonicalKeys.MaxTokensField]);
        Assert.Equal("end-user-7", extra[CanonicalKeys.EndUser]);
        Assert.Equal(40, Assert.IsType<JsonElement>(extra["openai:top_k"]).GetInt32());
        Assert.Equal("azure", Assert.IsType<JsonElement>(extra["openai:provider"]).GetProperty("order")[1].GetString());
        Assert.True(Assert.IsType<JsonElement>(extra["openai:stream_options"]).GetProperty("include_usage").GetBoolean());
        Assert.True(extra.ContainsKey("openai:logprobs"));
        Assert.True(extra.ContainsKey("openai:top_logprobs"));
        Assert.True(extra.ContainsKey("openai:metadata"));
        Assert.False(extra.ContainsKey("openai:temperature"));
    }

    [Fact]
    public void WriteRequest_RichRequest_RoundTripsEveryField()
    {
        var written = WriteRequest(Read(RichRequest));

        JsonAssert.Equal(RichRequest.Replace("\"openai/gpt-4o\"", "\"gpt-4o-2024-08-06\"", StringComparison.Ordinal), written);
    }

    [Fact]
    public void WriteRequest_DeveloperRole_IsRestored()
    {
        var request = Read("""{"model":"m","messages":[{"role":"developer","content":"Be brief."},{"role":"user","content":"Hi"}]}""");

        JsonAssert.Equal(
            """{"model":"up","messages":[{"role":"developer","content":"Be brief."},{"role":"user","content":"Hi"}]}""",
            WriteRequest(request, "up"));
    }

    [Fact]
    public void WriteRequest_ToolChoiceWithoutTools_IsOmitted()
    {
        var request = Read("""{"model":"m","messages":[{"role":"user","content":"Hi"}],"tool_choice":"auto","parallel_tool_calls":true}""");
        Assert.Equal(ChatToolMode.Auto, request.Options.ToolMode);

        var written = WriteRequest(request, "up");

        JsonAssert.Equal("""{"model":"up","messages":[{"role":"user","content":"Hi"}]}""", written);
    }

    [Fact]
    public void WriteRequest_UnmappedToolChoiceWithTools_IsKeptVerbatim()
    {
        const string Json = """
            {"model":"m","messages":[{"role":"user","content":"Hi"}],
             "tools":[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{}}}}],
             "tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"a"}}]}}}
            """;
        var request = Read(Json);
        Assert.Null(request.Options.ToolMode);

        JsonAssert.Equal(Json.Replace("\"m\"", "\"up\"", StringComparison.Ordinal), WriteRequest(request, "up"));
    }

    [Fact]
    public void WriteRequest_CanonicalTools_WritesFunctionToolsAndToolChoice()
    {
        var schema = JsonAssert.Parse("""{"type":"object","properties":{"q":{"type":"string"}}}""");
        var request = new CanonicalChatRequest(
            [new ChatMessage(ChatRole.User, "Find it")],
            new ChatOptions
            {
                Tools = [new OpenAIFunctionDeclaration("search", "Searches", schema, strict: null)],
                ToolMode = ChatToolMode.RequireAny,
                AllowMultipleToolCalls = true,
                MaxOutputTokens = 100,
                Instructions = "Be helpful.",
            },
            Stream: false);

        JsonAssert.Equal(
            """
            {"model":"up","messages":[{"role":"system","content":"Be helpful."},{"role":"user","content":"Find it"}],
             "max_tokens":100,
             "tools":[{"type":"function","function":{"name":"search","description":"Searches","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}],
             "tool_choice":"required","parallel_tool_calls":true}
            """,
            WriteRequest(request, "up"));
    }

    [Fact]
    public void WriteRequest_OtherDialectKeys_AreNotWritten()
    {
        var request = Read("""{"model":"m","messages":[{"role":"user","content":"Hi"}],"top_k":5}""");
        request.Options.AdditionalProperties!["anthropic:container"] = JsonAssert.Parse("""{"id":"c1"}""");
        request.Options.AdditionalProperties["qlaud.something"] = "x";

        JsonAssert.Equal("""{"model":"up","messages":[{"role":"user","content":"Hi"}],"top_k":5}""", WriteRequest(request, "up"));
    }

    [Fact]
    public void WriteRequest_StreamWithoutStreamOptions_AsksForUsage()
    {
        var request = Read("""{"model":"m","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_obfuscation":false}}""");

        JsonAssert.Equal(
            """{"model":"up","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_obfuscation":false,"include_usage":true}}""",
            WriteRequest(request, "up"));
    }

    [Fact]
    public void ReadRequest_MaxTokens_KeepsOpenAISpelling()
    {
        var request = Read("""{"model":"m","messages":[{"role":"user","content":"Hi"}],"max_tokens":64,"stop":"###"}""");

        Assert.Equal(64, request.Options.MaxOutputTokens);
        Assert.False(request.Options.AdditionalProperties?.ContainsKey(CanonicalKeys.MaxTokensField) ?? false);
        Assert.Equal(["###"], request.Options.StopSequences!);
        JsonAssert.Equal("""{"model":"up","messages":[{"role":"user","content":"Hi"}],"max_tokens":64,"stop":["###"]}""", WriteRequest(request, "up"));
    }

    [Fact]
    public void ReadRequest_UnmappedReasoningEffort_IsKeptVerbatim()
    {
        var request = Read("""{"model":"m","messages":[{"role":"user","content":"Hi"}],"reasoning_effort":"minimal"}""");

        Assert.Null(request.Options.Reasoning);
        JsonAssert.Equal("""{"model":"up","messages":[{"role":"user","content":"Hi"}],"reasoning_effort":"minimal"}""", WriteRequest(request, "up"));
    }

    [Fact]
    public void ReadRequest_AssistantReasoningContent_RoundTripsOnlyFromThisDialect()
    {
        const string Json = """
            {"model":"m","messages":[
              {"role":"user","content":"2+2?"},
              {"role":"assistant","content":"4","reasoning_content":"Add them."},
              {"role":"user","content":"Sure?"}]}
            """;
        var request = Read(Json);
        var assistant = request.Messages[1];
        Assert.Equal("Add them.", Assert.IsType<TextReasoningContent>(assistant.Contents[0]).Text);
        Assert.Equal("4", Assert.IsType<TextContent>(assistant.Contents[1]).Text);

        JsonAssert.Equal(Json.Replace("\"m\"", "\"up\"", StringComparison.Ordinal), WriteRequest(request, "up"));

        // The same history built elsewhere (another dialect, in-process) carries no marker: reasoning stays out.
        var foreign = new CanonicalChatRequest(
            [new ChatMessage(ChatRole.Assistant, [new TextReasoningContent("Add them."), new TextContent("4")])],
            new ChatOptions(),
            Stream: false);
        JsonAssert.Equal("""{"model":"up","messages":[{"role":"assistant","content":"4"}]}""", WriteRequest(foreign, "up"));
        JsonAssert.Equal(
            """{"model":"up","messages":[{"role":"assistant","content":"4","reasoning_content":"Add them."}]}""",
            WriteRequest(foreign, "up", new OpenAIDialect(historyReasoningField: "reasoning_content")));
    }

    [Fact]
    public void ReadRequest_ToolArgumentsNotAnObject_KeepsRawText()
    {
        const string Json = """
            {"model":"m","messages":[
              {"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1"}}]},
              {"role":"tool","tool_call_id":"c","content":"error"}]}
            """;
        var request = Read(Json);

        var call = Assert.IsType<FunctionCallContent>(request.Messages[0].Contents[0]);
        Assert.Null(call.Arguments);
        Assert.NotNull(call.Exception);
        Assert.Equal("{\"a\":1", call.AdditionalProperties?[CanonicalKeys.RawArguments]);
        JsonAssert.Equal(Json.Replace("\"m\"", "\"up\"", StringComparison.Ordinal), WriteRequest(request, "up"));
    }

    [Fact]
    public void ReadRequest_AudioFileAndUnknownParts_RoundTrip()
    {
        const string Json = """
            {"model":"m","messages":[{"role":"user","content":[
              {"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},
              {"type":"input_audio","input_audio":{"data":"SUQz","format":"mp3"}},
              {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"a.pdf"}},
              {"type":"file","file":{"file_id":"file-123"}},
              {"type":"video_url","video_url":{"url":"https://example.com/v.mp4"}}
            ]}]}
            """;
        var request = Read(Json);

        var contents = request.Messages[0].Contents;
        Assert.Equal("audio/wav", Assert.IsType<DataContent>(contents[0]).MediaType);
        Assert.Equal("audio/mpeg", Assert.IsType<DataContent>(contents[1]).MediaType);
        var pdf = Assert.IsType<DataContent>(contents[2]);
        Assert.Equal(("application/pdf", "a.pdf"), (pdf.MediaType, pdf.Name));
        Assert.Equal("file-123", Assert.IsType<HostedFileContent>(contents[3]).FileId);
        Assert.IsType<OpenAIRawContent>(contents[4]);
        JsonAssert.Equal(Json.Replace("\"m\"", "\"up\"", StringComparison.Ordinal), WriteRequest(request, "up"));
    }

    [Fact]
    public void WriteRequest_ToolResultsInUserMessage_BecomeToolMessages()
    {
        // Anthropic puts tool results in a user turn, next to more user content.
        var request = new CanonicalChatRequest(
            [
                new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("t1", "a", new Dictionary<string, object?> { ["x"] = 1 }), new FunctionCallContent("t2", "b")]),
                new ChatMessage(ChatRole.User, [new FunctionResultContent("t1", "one"), new FunctionResultContent("t2", JsonAssert.Parse("""{"ok":true}""")), new TextContent("Go on")]),
            ],
            new ChatOptions(),
            Stream: false);

        JsonAssert.Equal(
            """
            {"model":"up","messages":[
              {"role":"assistant","content":null,"tool_calls":[
                {"id":"t1","type":"function","function":{"name":"a","arguments":"{\"x\":1}"}},
                {"id":"t2","type":"function","function":{"name":"b","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"t1","content":"one"},
              {"role":"tool","tool_call_id":"t2","content":"{\"ok\":true}"},
              {"role":"user","content":"Go on"}]}
            """,
            WriteRequest(request, "up"));
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("[]", "JSON object")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}]}""", "model is required")]
    [InlineData("""{"model":"m"}""", "messages is required")]
    [InlineData("""{"model":"m","messages":[]}""", "at least one message")]
    [InlineData("""{"model":7,"messages":[{"role":"user","content":"x"}]}""", "model must be a string")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}""", "temperature must be a number")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":1.5}""", "max_completion_tokens must be an integer")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"},{"content":"y"}]}""", "messages[1].role is required")]
    [InlineData("""{"model":"m","messages":[{"role":"tool","content":"y"}]}""", "messages[0].tool_call_id is required")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":5}]}""", "messages[0].content must be")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}""", "messages[0].content[0].image_url.url is required")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio"}]}]}""", "messages[0].content[0].input_audio is required")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{}}]}]}""", "messages[0].content[0].file needs file_data or file_id")]
    [InlineData("""{"model":"m","messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}]}""", "messages[0].tool_calls[0].id is required")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]}""", "tools[0].function.name is required")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"stop":[1]}""", "stop must be")]
    public void ReadRequest_InvalidInput_ThrowsInvalidRequestNamingTheField(string json, string expectedMessage)
    {
        var ex = Assert.Throws<DialectException>(() => Read(json));

        Assert.Equal(QlaudErrorKind.InvalidRequest, ex.Kind);
        Assert.Contains(expectedMessage, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(",\"stream_options\":{\"include_usage\":true}", true)]
    [InlineData(",\"stream_options\":{\"include_usage\":false}", false)]
    [InlineData("", false)]
    public void IncludeUsageRequested_StreamOptions_ReflectsIncludeUsage(string streamOptions, bool expected)
    {
        var request = Read($$"""{"model":"m","messages":[{"role":"user","content":"Hi"}],"stream":true{{streamOptions}}}""");

        Assert.Equal(expected, OpenAIDialect.IncludeUsageRequested(request.Options));
    }
}
